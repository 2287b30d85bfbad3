"""Helpers every layer uses for I/O with bounds: files (:mod:`.files`), HTTP clients
(:mod:`.http`) and HTTP servers (:mod:`.serving`). Not a public API."""
