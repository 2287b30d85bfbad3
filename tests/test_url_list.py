"""`preserve --from-file`: lists as spreadsheets and editors write them (BOM, CRLF, comments, CSV)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from evidence_cli.url_list import MAX_LIST_BYTES, decode_list, parse_list, read_list

from evidence.errors import UsageError

A, B, C = "https://shop.example/item/1", "https://shop.example/item/2#reviews", "http://127.0.0.1:8080/a,b?x=1,2"


def urls(data: bytes, name: str = "list.txt") -> list[str]:
    return [u.url for u in parse_list(decode_list(data, name), name)]


def test_plain_list_with_comments_blank_lines_and_fragments() -> None:
    text = f"# my list\n\n{A}   # the first one\n  {B}\t# a fragment is kept, the comment is not\n{C}\n   \n# end\n"
    assert urls(text.encode()) == [A, B, C]


@pytest.mark.parametrize(
    "data",
    [
        ("\ufeff" + f"{A}\r\n{B}\r\n").encode(),  # Excel "CSV UTF-8" / Notepad: BOM and CRLF
        f"{A}\r{B}\r".encode(),  # old Mac line ends
        f"{A}\r\n{B}\r\n".encode("utf-16"),  # Excel "Unicode text": UTF-16 with a BOM
    ],
    ids=["utf8-bom-crlf", "cr", "utf16-bom"],
)
def test_byte_order_marks_and_line_ends(data: bytes) -> None:
    assert urls(data) == [A, B]


def test_csv_first_column_and_header_row() -> None:
    data = ("\ufeff" + f'URL,notes\r\n{A},"first, with a comma"\r\n"{C}",x\r\n\r\n# skipped,\r\n{B},\r\n').encode()
    listed = parse_list(decode_list(data, "listings.csv"), "listings.csv")
    assert [u.url for u in listed] == [A, C, B]
    assert [u.line for u in listed] == [2, 3, 6]


def test_tsv_first_column() -> None:
    data = f"address\tcomment\n{A}\tone\n{B}\ttwo\n".encode()
    assert urls(data, "x.tsv") == [A, B]


def test_a_csv_without_header_keeps_its_first_row() -> None:
    assert urls(f"{A},a\n{B},b\n".encode(), "x.csv") == [A, B]


def test_a_text_list_keeps_commas_in_addresses() -> None:
    assert urls(f"{C}\n".encode()) == [C]


def test_line_numbers_for_messages() -> None:
    listed = parse_list(f"# head\n\n{A}\n{B}\n", "l.txt")
    assert [(u.url, u.line) for u in listed] == [(A, 3), (B, 4)]


def test_not_utf8_is_a_usage_error_with_what_to_do() -> None:
    with pytest.raises(UsageError) as info:
        decode_list(b"https://x.example/\xe9t\xe9\n", "latin1.txt")
    assert "not UTF-8" in info.value.diagnostics() and "CSV UTF-8" in info.value.diagnostics()


def test_read_list_caps_the_size_and_reads_stdin(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:
        f.truncate(MAX_LIST_BYTES + 1)
    with pytest.raises(UsageError, match="larger than"):
        read_list(str(big))
    with pytest.raises(UsageError, match=r"cannot read the URL list|the URL list .* does not exist"):
        read_list(str(tmp_path / "missing.txt"))

    class Stdin(io.StringIO):
        buffer = io.BytesIO(("\ufeff" + f"{A} # c\r\n").encode())

    assert [u.url for u in read_list("-", Stdin())] == [A]
