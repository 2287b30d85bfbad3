"""The certificate of preservation: rendered from a verification, not found in a bundle.

:func:`render_certificate` is made by ``evidence report`` from a
:class:`~evidence.verify.Report`, that is from a verification under the user's trust, and
from the bundle data that verification checked (:func:`read_certified`). It shows each claim
with its grade and what it was checked against, and states in its opening summary only what
the verification established (a time or a log position that is not VERIFIED is said to be
not established, never stated). It is a pure function of those inputs; turning it into a PDF
(with JavaScript off and the network refused) is :mod:`evidence.report.pdf`'s job.

The document is a sequence of **sections** (:data:`SECTIONS`): each is a function of one
:class:`Page` (the verification, the checked data, the context, the languages) returning its
HTML, or ``""`` to leave nothing. Two slots are reserved for sections other modules provide:
``timeline`` (a walk's timeline) and ``clean_environment`` (the clean-environment table);
they render nothing until those modules are wired in. A caller may pass its own sequence
(``render_certificate(..., sections=...)``).

Languages: English (``en``), Simplified Chinese (``zh``) or both (``("en", "zh")``): every
fixed text of the certificate exists in both (:data:`_T`); in both, each heading and label
is given in English then Chinese. What the verifier wrote (claim details, step details,
warnings) and what the bundle holds are shown as they are, in their own language.

On the verify path's side of the line: imports :mod:`evidence.report.derived` (shared
escaping), :mod:`evidence.report.number`, the bundle format, (lazily) segno for the
QR code and :mod:`evidence.verify`'s result types; never report.pdf, bundle.writer or capture.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from evidence._internal.timefmt import visible_text
from evidence.errors import BundleFormatError, UsageError
from evidence.report.derived import BASE_CSS, bounded_html, field_at, shown_list
from evidence.report.number import EvidenceNumber

if TYPE_CHECKING:
    from evidence.bundle.reader import BundleView
    from evidence.verify import Claim, Report

__all__ = [
    "LANGUAGES",
    "MAX_EMBEDDED_IMAGE",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "SECTIONS",
    "CertificateContext",
    "CertifiedData",
    "Page",
    "evidence_number",
    "parse_languages",
    "read_certified",
    "render_certificate",
]

# --------------------------------------------------------------------------- the graded certificate

#: A screenshot larger than this is not embedded in the certificate (the page says so).
MAX_EMBEDDED_IMAGE = 16 << 20
#: ... and one that declares more pixels than these (a small file can declare a huge image).
MAX_IMAGE_SIDE = 32_768
MAX_IMAGE_PIXELS = 64_000_000
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SCREENSHOT = "evidence/screenshot-viewport.png"
_FULL_SCREENSHOT = "evidence/screenshot-full.png"
_CAPTURE = "evidence/capture.json"
_ENVIRONMENT = "evidence/environment.json"

#: The languages a certificate is written in.
LANGUAGES = ("en", "zh")
_HTML_LANG = {"en": "en", "zh": "zh-Hans"}

#: Only inline styles and data: images; no script, frame, font, form or request of any kind.
_CSP_CERTIFICATE = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"

#: Fonts named explicitly, so that Chromium draws (and its PDF embeds) a CJK font for Chinese
#: text: Noto CJK (Debian's fonts-noto-cjk), else the usual system CJK fonts.
CJK_FONTS = "'Noto Serif CJK SC','Noto Sans CJK SC','Source Han Serif SC','Songti SC','SimSun'"
_FONTS = f"Georgia,'Times New Roman','DejaVu Serif',{CJK_FONTS},serif"

_CSS_CERTIFICATE = (
    BASE_CSS
    + f"""body{{font-family:{_FONTS}}}
:lang(zh-Hans){{font-family:{CJK_FONTS},serif}}
.zh{{display:block}}
.verdict{{border:3px solid;padding:.6rem 1rem;margin:1rem 0}}
.verdict .big{{font-size:1.5rem;font-weight:bold;margin:.2rem 0}}
.v-VERIFIED{{border-color:#1b6e20;background:#e8f5e9}}
.v-NOT_ANCHORED{{border-color:#c77700;background:#fff3cd}}
.v-FAILED,.v-UNUSABLE{{border-color:#b3261e;background:#fdecea}}
.summary{{font-size:1.05rem;border-left:4px solid #333;padding:.2rem 1rem;margin:1rem 0}}
.warnings{{background:#fff3cd;border:2px solid #c77700;padding:.5rem 1rem;margin:1rem 0}}
.number{{display:flex;gap:1rem;align-items:flex-start;break-inside:avoid}}
.number img{{width:9rem;height:9rem;image-rendering:pixelated;flex:none}}
.number .label{{font-size:1.2rem;font-weight:bold;overflow-wrap:anywhere}}
table.claims{{table-layout:fixed}}
table.claims th{{width:9rem}}
table.claims td.grade{{width:11rem}}
td{{overflow-wrap:anywhere}}
.grade{{font-weight:bold}}
.g-VERIFIED .grade{{color:#1b6e20}}
.g-NOT_ANCHORED .grade,.g-NONE .grade,.g-NOT_CHECKED .grade{{color:#8a5300}}
.g-FAILED .grade{{color:#b3261e}}
.fail td{{background:#fdecea}}
h2{{break-after:avoid-page}}
img.shot{{break-inside:avoid;max-height:250mm;object-fit:contain;object-position:left top}}
dl.glossary dt{{font-weight:bold;margin-top:.4rem}}
"""
)

#: Every fixed text of the certificate: key -> (English, Simplified Chinese). ``{name}`` fields
#: are filled with escaped values; the texts themselves may hold markup.
_T: dict[str, tuple[str, str]] = {
    "title": ("Certificate of preservation", "电子证据保全证书"),
    "title_na": ("Certificate of preservation: NOT ANCHORED IN TRUST", "电子证据保全证书：未锚定于可信密钥"),
    "title_failed": (
        "Verification FAILED: this is not a certificate of preservation",
        "核验未通过：本文件不是保全证书",
    ),
    "title_unusable": (
        "UNUSABLE INPUT: this is not a certificate of preservation",
        "输入无法使用：本文件不是保全证书",
    ),
    "lead": (
        "Every check passed against the keys and certificates you trust (see \u201cChecked against\u201d).",
        "全部核验均已通过，核验所用的是您信任的密钥和证书（见\u201c核验所依据的信任\u201d）。",
    ),
    "lead_na": (
        "The bundle is consistent, but some of its signatures were checked only with keys found inside the bundle, "
        "which anyone could have made. A claim graded NOT ANCHORED IN TRUST is not established by this certificate.",
        "证据包内容前后一致，但其中部分签名只能用证据包内附带的密钥核验，而这类密钥任何人都可以自行生成。"
        "评级为\u201c未锚定于可信密钥\u201d的结论，本证书不予确认。",
    ),
    "lead_failed": (
        "The bundle did not pass verification. Do not rely on it until the failure below is explained.",
        "证据包未通过核验。在查明下述失败原因之前，请勿依赖该证据包。",
    ),
    "lead_unusable": (
        "The file could not be checked as an evidence bundle at all.",
        "该文件根本无法作为证据包进行核验。",
    ),
    "verdict": ("VERDICT", "核验结论"),
    "failed_at": ("Failed at step {n}: {title}", "在第{n}步失败：{title}"),
    "meaning": ("What this means:", "含义："),
    "english_details": (
        "",
        "说明：核验程序对每一步和每项结论的详细说明保留英文原文，证据包中记录的内容按原样显示。",
    ),
    # ---- the summary
    "h_summary": ("In brief", "摘要"),
    "s_preserved_by": (
        "On {when}, {operator} preserved {url}{case}.",
        "{when}，{operator}保全了网页 {url}{case}。",
    ),
    "s_preserved": ("On {when}, the page {url} was preserved{case}.", "{when}，网页 {url} 被保全{case}。"),
    "s_case": (" for case {case}", "（案件编号：{case}）"),
    "s_clock": (
        "(That time is the capture computer's own clock, as it recorded it.)",
        "（该时间为采集计算机自身的时钟记录，并非独立时间。）",
    ),
    "s_sealed": (
        "The files are sealed (manifest SHA-256 {m}) as entry {index} of the log {origin}: evidence number "
        "<b>{number}</b>, checked against the log key you trust.",
        "全部文件已封存（清单文件 manifest.json 的 SHA-256 哈希值为 {m}），记为日志 {origin} 的第 {index} 号日志条目"
        "（从 0 起算）：证据编号 <b>{number}</b>，已用您信任的日志公钥核验。",
    ),
    "s_not_logged": (
        "The files match their seal (manifest SHA-256 {m}), but their place in a log is NOT established: it was "
        "checked only with a key found in the bundle, or not at all.",
        "文件与其封存记录一致（清单文件的 SHA-256 哈希值为 {m}），但其在日志中的位置<b>未能确认</b>："
        "仅用证据包内附带的密钥核验，或未经核验。",
    ),
    "s_clock_time": (
        "The log's clock signed that the entry was in the log at {when}.",
        "日志时钟签名确认：该条目不晚于 {when} 已记入日志。",
    ),
    "s_tsa": (
        "Independent time: the files existed no later than {when}, as the time-stamping authority {tsa} certifies "
        "(RFC 3161 time-stamp {file}, checked against a certificate you trust).",
        "独立时间：时间戳机构 {tsa} 证明上述文件不晚于 {when} 已经存在"
        "（RFC 3161 时间戳 {file}，已用您信任的证书核验）。",
    ),
    "s_no_tsa": (
        "No independent time (RFC 3161 time-stamp) is established.",
        "未能确认独立时间（RFC 3161 时间戳）。",
    ),
    "s_witnesses": (
        "Independent witnesses you trust cosigned the log's checkpoint.",
        "您信任的独立见证方已对该日志检查点进行联署。",
    ),
    "s_failed": (
        "Nothing about this bundle is established: it failed verification.",
        "由于证据包未通过核验，本文件不确认关于该证据包的任何事实。",
    ),
    # ---- the evidence number
    "h_number": ("Evidence number", "证据编号"),
    "number_text": (
        "This number names the bundle's entry in the log (the log's name, then the entry's number, from 0). The QR "
        "code holds the same number with the manifest's SHA-256 and the log's checkpoint root, so that a verifier "
        "can find the entry and check it (its format: docs/bundle-format.md of the evidence project).",
        "该编号指明证据包在日志中的条目（日志名称，后接条目编号，从 0 起算）。二维码中包含同一编号，"
        "以及清单文件的 SHA-256 哈希值和日志检查点的根哈希值，核验者可据此查找并核对该条目"
        "（格式见 evidence 项目的 docs/bundle-format.md）。",
    ),
    "no_number": (
        "No evidence number is given: the bundle's place in the log is not established under the trust used.",
        "不提供证据编号：在所用的信任设置下，证据包在日志中的位置未能确认。",
    ),
    "qr_alt": ("QR code of the evidence number", "证据编号二维码"),
    # ---- the bundle table
    "bundle_file": ("Bundle file", "证据包文件名"),
    "bundle_sha": ("Bundle file SHA-256", "证据包文件的 SHA-256 哈希值"),
    "bundle_size": ("Bundle file size (bytes)", "证据包文件大小（字节）"),
    "checked_against": ("Checked against", "核验所依据的信任"),
    "checked_by": ("Checked by", "核验工具与时间"),
    # ---- warnings
    "h_capture_warnings": ("Warnings recorded by the capture", "采集时记录的警告"),
    "capture_warnings": (
        "The capture tool recorded these warnings about the page and sealed them with it. Read them before relying "
        "on what the page showed.",
        "采集工具记录了以下关于该网页的警告，并将其一并封存。在依赖网页显示内容之前，请先阅读这些警告。",
    ),
    "h_warnings": ("Warnings from the verification", "核验中的警告"),
    "warnings": (
        "They do not change the verdict, but a reader must know them.",
        "这些警告不改变核验结论，但阅读者必须知悉。",
    ),
    # ---- the screenshot
    "h_clean": ("The capture machine, checked item by item", "采集环境清洁性检查（逐项）"),
    "clean_note": (
        "Before the first request to the site, the capture tool checked the machine it ran on, item by item "
        "(browser profile, proxies, hosts file, name resolution, clock, TLS chains); the verdicts and what was "
        "observed are sealed in the bundle.",
        "在向网站发出第一个请求之前，采集工具逐项检查了其运行的计算机"
        "（浏览器配置、代理、hosts 文件、域名解析、时钟、TLS 证书链）；"
        "各项结论及观察到的情况均已封存在证据包中。",
    ),
    "h_timeline": ("The walk, step by step", "取证过程（逐步记录）"),
    "timeline_note": (
        "How the page was reached: each step the browser took, in order, with the time it ended, its "
        "place in the screen recording and the screenshot taken after it (all sealed).",
        "页面是如何到达的：浏览器按顺序执行的每一步操作，包括结束时间、在录屏中的位置以及该步之后截取的截图（均已封存）。",
    ),
    "h_screenshot": ("What the capture's browser showed (the whole page)", "采集时浏览器显示的内容（整页截图）"),
    "h_screenshot_first": ("What the capture's browser showed (first screen)", "采集时浏览器显示的内容（首屏截图）"),
    "screenshot_alt": ("Screenshot of the preserved page", "所保全网页的截图"),
    "screenshot_note": (
        "SHA-256 {sha}, sealed in the bundle as <code>{path}</code>. A very long page is shown reduced; the image at "
        "full size, <code>page.pdf</code> and the web archive are in the bundle.",
        "SHA-256 哈希值 {sha}，作为 <code>{path}</code> 封存于证据包中。过长的网页在此缩小显示；"
        "原尺寸截图、<code>page.pdf</code> 及网页存档均在证据包中。",
    ),
    # ---- the claims
    "h_claims": ("The claims, each graded", "各项结论及其评级"),
    "claims_intro": (
        "A claim is established only where it is graded VERIFIED: checked against the keys and certificates listed "
        "under \u201cChecked against\u201d. Anything else found in the bundle (a time-stamp from an authority you do "
        "not pin, a signature by a key you did not give) is shown with its grade and is not established.",
        "只有评级为\u201c已验证\u201d（VERIFIED）的结论才被确认，即已用\u201c核验所依据的信任\u201d中列出的密钥和证书核验。"
        "证据包中的其他内容（例如来自您未指定的时间戳机构的时间戳、由您未提供的密钥所作的签名）"
        "仅连同其评级一并列出，不予确认。",
    ),
    "established": ("Established:", "已确认："),
    "nothing": ("nothing", "无"),
    "claims_failed": (
        "The bundle failed verification: no claim below may be relied on, even where a check passed before the "
        "failure.",
        "证据包未通过核验：以下任何结论均不可依赖，即使某些检查在失败之前已经通过。",
    ),
    "claim": ("Claim", "结论"),
    "grade": ("Grade", "评级"),
    "what_checked": ("What was checked, against what", "核验了什么、依据什么"),
    "no_claim": ("No claim could be graded.", "没有可评级的结论。"),
    "h_to_confirm": ("Found in the bundle, not anchored in trust", "证据包内附带、未锚定于可信密钥的密钥和证书"),
    "to_confirm_ok": (
        "Also in the bundle, not needed for this verdict and not established by it. To make them count, confirm "
        "these fingerprints with their owners through a separate channel and verify again trusting them.",
        "以下内容也在证据包中，本次结论不依赖它们，也不确认它们。如需采信，请通过其他渠道向其所有者核对这些指纹，"
        "并在信任它们的情况下重新核验。",
    ),
    "to_confirm_na": (
        "To anchor this result in trust, confirm these fingerprints with their owners through a separate channel "
        "(not from this bundle), then verify again trusting them.",
        "如需将本结果锚定于可信密钥，请通过其他渠道（而不是从本证据包）向其所有者核对这些指纹，然后在信任它们的情况下重新核验。",
    ),
    "fingerprint": ("fingerprint", "指纹"),
    # ---- what the capture recorded
    "h_recorded": ("What the capture recorded", "采集记录"),
    "recorded_intro": (
        "The capture tool's own records, sealed when the page was captured; the integrity check shows that they "
        "are unchanged since, not that they are true. Times marked \u201ccapture machine clock\u201d are that "
        "machine's own clock, not an independent time (for that, see the graded claims).",
        "以下为采集工具自身的记录，在采集网页时一并封存；完整性核验表明这些记录此后未被改动，但不能证明其内容真实。"
        "标注\u201c采集计算机时钟\u201d的时间来自该计算机自身的时钟，并非独立时间（独立时间见各项结论的评级）。",
    ),
    "seal_not_anchored": (
        "<b>The seal is not anchored in trust</b> (\u201cRecorded in the log\u201d above is not VERIFIED): whoever "
        "made this bundle could have made these records and their seal too.",
        "<b>封存未锚定于可信密钥</b>（上文\u201c已记入日志\u201d一项未获\u201c已验证\u201d评级）："
        "制作该证据包的人也可能伪造了这些记录及其封存。",
    ),
    "url": ("Requested address", "请求的网址"),
    "final_url": ("Address shown", "显示的网址"),
    "status": ("HTTP status", "HTTP 状态码"),
    "page_title": ("Page title", "网页标题"),
    "started": ("Capture started (UTC, capture machine clock)", "采集开始时间（UTC，采集计算机时钟）"),
    "finished": ("Capture finished (UTC, capture machine clock)", "采集结束时间（UTC，采集计算机时钟）"),
    "case": ("Case", "案件编号"),
    "operator": ("Operator", "操作人"),
    "server": ("Server address", "服务器地址"),
    "dns": ("DNS answers", "DNS 解析结果"),
    "tls": ("Connection security", "连接安全"),
    "tls_none": ("none (plain HTTP)", "无（明文 HTTP）"),
    "server_cert": ("Server certificate", "服务器证书"),
    "tool": ("Tool", "采集工具"),
    "browser": ("Browser", "浏览器"),
    "os": ("Operating system", "操作系统"),
    "h_redirects": ("Redirects", "重定向"),
    "redirect_step": ("Step {n} ({status})", "第 {n} 步（{status}）"),
    # ---- the seal
    "h_seal": ("The seal: every file's fingerprint", "封存：每个文件的指纹（SHA-256 哈希值）"),
    "seal_intro": (
        "The manifest lists the SHA-256 fingerprint of every preserved file; changing any byte of any file changes "
        "its fingerprint. The manifest's own fingerprint is what the log records.",
        "清单文件列出了每个保全文件的 SHA-256 指纹；任何文件中任何一个字节的改动都会改变其指纹。"
        "日志所记录的正是清单文件本身的指纹。",
    ),
    "sealed_file": ("Sealed file", "封存的文件"),
    "sha_size": ("<b>SHA-256</b> (size in bytes)", "<b>SHA-256 哈希值</b>（大小，字节）"),
    "manifest_sha": ("Manifest SHA-256", "清单文件的 SHA-256 哈希值"),
    # ---- the log position and the times
    "h_log": ("Position in the log, and each source of time", "在日志中的位置及各时间来源"),
    "log_intro": (
        "The log is append-only: it signs checkpoints that commit to every entry so far, so an entry cannot later "
        "be changed, removed or back-dated without breaking those signatures.",
        "该日志只能追加：日志签署的每个检查点都承诺了此前的全部条目，因此任何条目事后被修改、删除或倒签日期，都会使这些签名失效。",
    ),
    "log": ("Log", "日志"),
    "entry": ("Entry (from 0)", "日志条目编号（从 0 起算）"),
    "tree_size": ("Entries in the checkpoint", "检查点中的条目总数"),
    "root": ("Checkpoint root hash", "检查点根哈希值"),
    "source": ("Source of time", "时间来源"),
    "time": ("Time (UTC)", "时间（UTC）"),
    "src_capture": ("The capture computer's clock (not independent)", "采集计算机时钟（非独立时间）"),
    "src_clock": ("The log's clock (signed time)", "日志时钟（签名时间）"),
    "src_tsa": ("RFC 3161 time-stamp {file}", "RFC 3161 时间戳 {file}"),
    "not_graded": ("not graded: a record of the capture", "不评级：仅为采集记录"),
    # ---- the checks
    "h_steps": ("The checks that ran", "已执行的核验步骤"),
    "pass": ("PASS", "通过"),
    "fail": ("FAIL", "失败"),
    "not_run": ("not run", "未执行"),
    "file": ("File", "文件"),
    # ---- how to verify
    "h_how": ("How to verify", "如何核验"),
    "how_intro": (
        "Anyone can repeat this verification, offline, in any of three ways. Use the log's key and the "
        "time-stamping authorities' certificates as obtained from their owners, never those inside the bundle.",
        "任何人都可以离线重复本次核验，方式有以下三种。请使用从日志运营方和时间戳机构处直接取得的日志公钥和证书，"
        "切勿使用证据包内附带的密钥和证书。",
    ),
    "how_command": ("1. With the command line tool:", "1. 使用命令行工具："),
    "how_page": (
        "2. In a web browser, with no installation and no network: open the offline verifier page (written by "
        "<code>evidence verifier-page -o verify.html</code>; check its SHA-256 against the one the project "
        "publishes), load the log's key, and drop the bundle file on it.",
        "2. 在网页浏览器中核验，无需安装、无需联网：打开离线核验页面"
        "（由 <code>evidence verifier-page -o verify.html</code> "
        "生成；请将其 SHA-256 哈希值与项目公布的值核对），载入日志公钥，然后将证据包文件拖入页面。",
    ),
    "how_hand": (
        "3. By hand, with standard tools: unzip the bundle and follow its <code>evidence/VERIFY.txt</code>. The "
        "first check is the manifest's fingerprint, which must be the one on this certificate:",
        "3. 使用通用工具手工核验：解压证据包，按照其中 <code>evidence/VERIFY.txt</code> 的说明操作。"
        "第一项检查是清单文件的指纹，它必须与本证书上的指纹一致：",
    ),
    "how_lookup": (
        "The log's operator can also be asked directly whether it holds this seal (no login needed):",
        "也可以直接向日志运营方查询其是否记录了该封存（无需登录）：",
    ),
    # ---- glossary
    "h_glossary": ("Words used", "术语说明"),
    "g_hash": (
        "SHA-256 fingerprint (hash)",
        "SHA-256 指纹（哈希值）",
    ),
    "g_hash_d": (
        "A 64-character code computed from a file's bytes. Any change to the file gives a different code.",
        "根据文件内容计算出的 64 位字符代码。文件的任何改动都会得到不同的代码。",
    ),
    "g_manifest": ("Manifest", "清单文件"),
    "g_manifest_d": (
        "The file in the bundle that lists every preserved file with its fingerprint: sealing it seals them all.",
        "证据包中列出每个保全文件及其指纹的文件：封存清单文件即封存了全部文件。",
    ),
    "g_log": ("Log, entry, checkpoint", "日志、日志条目、检查点"),
    "g_log_d": (
        "An append-only public list of fingerprints. A checkpoint is the log's signed statement of all its entries "
        "so far; an inclusion proof shows that one entry is among them.",
        "一份只能追加的公开指纹列表。检查点是日志对其截至当时全部条目所作的签名声明；包含证明用于证明某一条目在其中。",
    ),
    "g_tsa": ("Time-stamp (RFC 3161)", "时间戳（RFC 3161）"),
    "g_tsa_d": (
        "A time-stamping authority's signed statement that some data existed at a given time.",
        "时间戳机构签署的声明，证明某些数据在特定时间已经存在。",
    ),
    "g_witness": ("Witness", "见证方"),
    "g_witness_d": (
        "An independent party that cosigns a log's checkpoints after checking the log never rewrote its history.",
        "独立的第三方，在确认日志从未改写其历史后，对日志检查点进行联署。",
    ),
    "g_grade": ("Grade", "评级"),
    "g_grade_d": (
        "VERIFIED: checked against keys you trust. NOT ANCHORED IN TRUST: checked only with keys found in the "
        "bundle, which anyone could have made. NONE: nothing to check. FAILED: the check failed.",
        "已验证（VERIFIED）：已用您信任的密钥核验。未锚定于可信密钥（NOT ANCHORED IN TRUST）："
        "仅用证据包内附带的、任何人都可以生成的密钥核验。无（NONE）：没有可核验的内容。失败（FAILED）：核验未通过。",
    ),
    # ---- what this is
    "h_what": ("What this certificate is", "关于本证书"),
    "what": (
        "It was generated by <code>evidence report</code> from a verification of the bundle file named above "
        "against the trust named above, not from the bundle's own <code>report.html</code>, which establishes "
        "nothing by itself. It does not prove that what the page showed was true, who controlled the web site, or "
        "that the capture machine's clock was right.",
        "本证书由 <code>evidence report</code> 根据上述信任设置对上述证据包文件的核验结果生成，"
        "而非取自证据包自带的 <code>report.html</code>（该文件本身不证明任何事实）。"
        "本证书不证明网页所显示的内容属实，不证明网站由谁控制，也不证明采集计算机的时钟准确。",
    ),
}

_VERDICT_ZH = {
    "VERIFIED": "已验证",
    "VERIFIED BUT NOT ANCHORED IN TRUST": "已验证，但未锚定于可信密钥",
    "FAILED": "未通过",
    "UNUSABLE INPUT": "输入无法使用",
}
_GRADE_ZH = {
    "VERIFIED": "已验证",
    "NOT ANCHORED IN TRUST": "未锚定于可信密钥",
    "NONE": "无",
    "FAILED": "失败",
    "NOT CHECKED": "未检查",
}
_GRADE_WORDS = {
    "VERIFIED": ("established", "已确认"),
    "NOT ANCHORED IN TRUST": (
        "NOT established: checked only with keys found in the bundle",
        "未确认：仅用证据包内附带的密钥核验",
    ),
    "NONE": ("nothing to establish", "无需确认"),
    "FAILED": ("NOT established: the check failed", "未确认：核验失败"),
    "NOT CHECKED": ("NOT established: not checked", "未确认：未经核验"),
}
_CLAIM_ZH = {
    "Integrity of the preserved files": "保全文件的完整性",
    "Recorded in the log": "已记入日志",
    "Signed time (the log's clock)": "签名时间（日志时钟）",
    "Independent time (RFC 3161)": "独立时间（RFC 3161 时间戳）",
    "Witnesses": "见证方联署",
}
_STEP_ZH = {
    1: "证据包是完整、未损坏的 WACZ 容器",
    2: "每个封存文件都与清单一致",
    3: "根据清单重新计算日志条目",
    4: "该条目包含在日志已签名的检查点中",
    5: "检查点由日志密钥签名",
    6: "联署：日志签名时间与见证方",
    7: "独立时间戳（RFC 3161）",
    8: "各项采集记录相互一致",
}


#: Where a claim's or step's detail turns to another item (a token, the lines nobody checked):
#: each starts a new line, so that what is NOT ANCHORED never reads as part of what is.
_ITEM_START = re.compile(
    r"(?<=\S) (?=(?:checkpoint\.\d+\.tsr|refresh-\d+\.\d+\.tsr): |Also present, not checked: |Not checked )"
)


def _detail(text: str) -> str:
    return "<br>".join(bounded_html(part) for part in _ITEM_START.split(text))


def parse_languages(text: str) -> tuple[str, ...]:
    """``"en"``, ``"zh"``, ``"en,zh"`` (or ``"zh,en"``) -> the languages, in that order."""
    langs = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    bad = [x for x in langs if x not in LANGUAGES]
    if not langs or bad or len(set(langs)) != len(langs):
        raise UsageError(
            f"--lang {text!r}: give en, zh or en,zh", hint="en: English; zh: Simplified Chinese; en,zh: both."
        )
    return langs


@dataclass(frozen=True)
class CertificateContext:
    """Facts about the verification run that the certificate states (given by the caller)."""

    bundle_name: str
    bundle_sha256: str
    bundle_size: int
    #: Where the trust came from, in words ("trust policy ~/trust.policy"); "" if only options.
    trust_source: str
    #: When the certificate was made, by the clock of the computer that made it.
    made_at: str
    #: The program that verified ("evidence 0.1.0").
    tool: str


@dataclass(frozen=True)
class CertifiedData:
    """Sealed files of a verified bundle, each checked against its sealed SHA-256 when read."""

    manifest: dict[str, Any]
    manifest_sha256: str
    capture: Any
    environment: Any
    screenshot_png: bytes | None
    #: Why the screenshot is not embedded, when it is not.
    screenshot_note: str = ""
    #: The whole page (``screenshot-full.png``), when sealed and small enough to embed.
    full_png: bytes | None = None
    #: A walk's steps with their screenshots (:mod:`evidence.report.timeline`); "" for one page.
    timeline: str = ""
    #: The clean-environment check's table (bundles made since it exists; "" before).
    clean_html: str = ""


def _png_refusal(name: str, png: bytes) -> str:
    """Why ``png`` is not embedded ("" if it may be): not a PNG, or more pixels than a certificate shows."""
    short = name.split("/")[-1]
    if not png.startswith(_PNG_MAGIC) or len(png) < 24 or png[12:16] != b"IHDR":
        return f"The bundle's {short} is not a PNG image and is not embedded."
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE and width * height <= MAX_IMAGE_PIXELS):
        return (
            f"The bundle's {short} declares {width} x {height} pixels, more than a certificate embeds; "
            "it is not embedded."
        )
    return ""


def read_certified(view: BundleView, *, manifest_sha256: str | None = None) -> CertifiedData:
    """Read what the certificate shows from a bundle that was just verified.

    Every file read is checked against the SHA-256 the manifest seals (and the manifest
    against ``manifest_sha256``, the one the verification saw, when given), so a bundle
    changed between the verification and this read is refused, never shown.
    """
    from evidence.bundle.format import MANIFEST_PATH

    raw = view.read(MANIFEST_PATH)
    digest = hashlib.sha256(raw).hexdigest()
    if manifest_sha256 is not None and digest != manifest_sha256:
        raise BundleFormatError(
            f"{MANIFEST_PATH} changed after it was verified (SHA-256 {digest}, verified {manifest_sha256})",
            hint="Make sure nothing writes to the bundle while the certificate is made, and run the command again.",
        )
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BundleFormatError(f"{MANIFEST_PATH} is not valid JSON ({e})") from e
    sealed: dict[str, tuple[str, int]] = {}
    for f in manifest.get("files", []) if isinstance(manifest, dict) else []:
        if isinstance(field_at(f, "path"), str) and isinstance(field_at(f, "sha256"), str):
            sealed[f["path"]] = (f["sha256"], f.get("size"))

    def sealed_bytes(name: str, limit: int | None = None) -> bytes | None:
        if name not in sealed or not view.has(name):
            return None
        if limit is not None and isinstance(sealed[name][1], int) and sealed[name][1] > limit:
            return None
        data = view.read(name) if limit is None else view.read(name, limit=limit)
        if hashlib.sha256(data).hexdigest() != sealed[name][0]:
            raise BundleFormatError(
                f"{name} does not match its seal any more (it changed after the bundle was verified)",
                hint="Make sure nothing writes to the bundle while the certificate is made, and run the command again.",
            )
        return data

    def sealed_json(name: str) -> Any:
        data = sealed_bytes(name)
        if data is None:
            return {}
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return {}

    shot = sealed_bytes(_SCREENSHOT, MAX_EMBEDDED_IMAGE)
    note = ""
    if shot is None:
        note = (
            f"The bundle's {_SCREENSHOT.split('/')[-1]} is larger than {MAX_EMBEDDED_IMAGE} bytes and is not embedded."
            if _SCREENSHOT in sealed and view.has(_SCREENSHOT)
            else "The bundle holds no sealed screenshot of the first screen."
        )
    elif note := _png_refusal(_SCREENSHOT, shot):
        shot = None
    full = sealed_bytes(_FULL_SCREENSHOT, MAX_EMBEDDED_IMAGE)
    if full is not None and _png_refusal(_FULL_SCREENSHOT, full):
        full = None
    return CertifiedData(
        manifest=manifest,
        manifest_sha256=digest,
        capture=sealed_json(_CAPTURE),
        environment=sealed_json(_ENVIRONMENT),
        screenshot_png=shot,
        screenshot_note=note,
        full_png=full,
        timeline=_timeline(view, sealed_bytes),
        clean_html=_clean_table(view, sealed_bytes),
    )


def _clean_table(view: BundleView, sealed_bytes: Callable[[str, int | None], bytes | None]) -> str:
    """The clean-environment check item by item, from the sealed report only (its seal checked)."""
    from evidence.bundle.format import CLEAN_PATH
    from evidence.report.derived import clean_rows

    if sealed_bytes(CLEAN_PATH, None) is None:
        return ""
    return "".join(clean_rows(view)[1:])  # its own heading is replaced by the certificate's


def _timeline(view: BundleView, sealed_bytes: Callable[[str, int | None], bytes | None]) -> str:
    """The walk's timeline with each step screenshot embedded (only sealed ones, checked)."""
    from evidence.bundle.format import STEPS_PATH
    from evidence.report.timeline import timeline_html

    if sealed_bytes(STEPS_PATH, None) is None:
        return ""

    def embedded(name: str) -> str:
        data = sealed_bytes(f"evidence/{name}", MAX_EMBEDDED_IMAGE)
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii") if data else ""

    return timeline_html(view, image_src=embedded)


def evidence_number(report: Report) -> EvidenceNumber | None:
    """The evidence number of a verified bundle: only when "Recorded in the log" is VERIFIED
    (checked against a log key the user trusts), else None."""
    from evidence.verify import Grade

    if not any(c.name == "Recorded in the log" and c.grade is Grade.VERIFIED for c in report.claims):
        return None
    d = dict(report.data)
    try:
        return EvidenceNumber(
            origin=str(d["log_origin"]),
            index=int(d["entry_index"]),
            tree_size=int(d["tree_size"]),
            manifest_sha256=str(d["manifest_sha256"]),
            root_hash=bytes.fromhex(str(d["root_hash"])),
        )
    except (KeyError, ValueError, TypeError):
        return None


# --------------------------------------------------------------------------- the page and its sections


@dataclass(frozen=True)
class Page:
    """What every section of the certificate is made from, and the words it is written in."""

    report: Report
    #: The checked data, only for a bundle whose integrity was VERIFIED (else None).
    data: CertifiedData | None
    context: CertificateContext
    langs: tuple[str, ...] = ("en",)
    extra: dict[str, Any] = field(default_factory=dict)

    # ---- facts of the verification
    @property
    def claims(self) -> dict[str, Claim]:
        return {c.name: c for c in self.report.claims}

    def verified(self, claim: str) -> bool:
        from evidence.verify import Grade

        c = self.claims.get(claim)
        return c is not None and c.grade is Grade.VERIFIED

    @property
    def facts(self) -> dict[str, Any]:
        return dict(self.report.data)

    @property
    def number(self) -> EvidenceNumber | None:
        return evidence_number(self.report) if self.data is not None else None

    # ---- words
    def words(self, key: str, **values: Any) -> list[tuple[str, str]]:
        """The text ``key`` in each language: [(lang, html)], values escaped and filled in."""
        shown = {k: v if isinstance(v, _Html) else bounded_html(v) for k, v in values.items()}
        out = []
        for lang in self.langs:
            text = _T[key][LANGUAGES.index(lang)]
            if text:
                out.append((lang, text.format(**shown)))
        return out

    def label(self, key: str, **values: Any) -> str:
        """A heading or a table label: each language on its own line (English first)."""
        parts = self.words(key, **values)
        return _joined(parts)

    def para(self, key: str, cls: str = "", **values: Any) -> str:
        """One paragraph per language."""
        c = f' class="{cls}"' if cls else ""
        return "".join(f'<p lang="{_HTML_LANG[lang]}"{c}>{text}</p>\n' for lang, text in self.words(key, **values))

    def h2(self, key: str, id: str = "") -> str:
        i = f' id="{id}"' if id else ""
        return f"<h2{i}>{self.label(key)}</h2>\n"

    def row(self, key: str, value: Any, mono: bool = False) -> str:
        cls = ' class="mono"' if mono else ""
        return f"<tr><th>{self.label(key)}</th><td{cls}>{bounded_html(value)}</td></tr>\n"

    def each(self, en: str, zh: str) -> str:
        """A value that has a Chinese rendering of its own (a grade, a claim name)."""
        return _joined([(lang, bounded_html(en if lang == "en" else zh)) for lang in self.langs])

    def when(self, value: Any) -> str:
        """A time from the report (ISO 8601 UTC) in words, in each language."""
        return _joined([(lang, bounded_html(_when_words(value, lang))) for lang in self.langs], sep=" / ")


class _Html(str):
    """Text that is already HTML (not escaped again when filled into a text)."""


def _joined(parts: Sequence[tuple[str, str]], sep: str = "") -> str:
    if len(parts) == 1:
        return parts[0][1]
    if sep:
        return sep.join(f'<span lang="{_HTML_LANG[lang]}">{text}</span>' for lang, text in parts)
    return "".join(
        f'<span lang="{_HTML_LANG[lang]}"{" class=zh" if i else ""}>{text}</span>'
        for i, (lang, text) in enumerate(parts)
    )


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _when_words(value: Any, lang: str) -> str:
    """``2026-12-02T01:09:33Z`` -> "2 December 2026 at 01:09:33 UTC" / "2026年12月2日 01:09:33（UTC）"."""
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        return str(value)
    if lang == "zh":
        return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M:%S}（UTC）"
    return f"{t.day} {_MONTHS[t.month - 1]} {t.year} at {t:%H:%M:%S} UTC"


Section = Callable[[Page], str]


def _head(p: Page) -> str:
    from evidence.verify import Verdict

    report, verdict = p.report, p.report.verdict
    key = {
        Verdict.VERIFIED: "",
        Verdict.NOT_ANCHORED: "_na",
        Verdict.FAILED: "_failed",
        Verdict.UNUSABLE: "_unusable",
    }[verdict]
    title_page = field_at(p.data.manifest, "url") if p.data is not None else p.context.bundle_name
    title = " / ".join(t for _, t in p.words("title" + key))
    parts = [
        f'<!DOCTYPE html>\n<html lang="{_HTML_LANG[p.langs[0]]}"><head><meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP_CERTIFICATE}">\n',
        f"<title>{title}: {bounded_html(title_page)}</title>\n",
        f"<style>{_CSS_CERTIFICATE}</style></head><body>\n",
        f"<h1>{p.label('title' + key)}</h1>\n",
        f'<div class="verdict v-{verdict.name}" id="verdict">\n',
    ]
    for lang, word in p.words("verdict"):
        shown = verdict.value if lang == "en" else _VERDICT_ZH[verdict.value]
        parts.append(f'<p class="big" lang="{_HTML_LANG[lang]}">{word}: {bounded_html(shown)}</p>\n')
    parts += [p.para("lead" + key), f"<p>{bounded_html(report.summary)}</p>\n"]
    failed = report.failed_step
    if failed is not None:
        files = f" (file: {', '.join(failed.files)})" if failed.files else ""
        zh_title = _STEP_ZH.get(failed.number, failed.title)
        for lang, text in p.words("failed_at", n=failed.number, title=_Html("\x00")):
            step = bounded_html(failed.title if lang == "en" else zh_title)
            parts.append(
                f'<p lang="{_HTML_LANG[lang]}"><b>{text.replace(chr(0), step)}</b>{bounded_html(files)}.</p>\n'
            )
        if failed.meaning:
            parts.append(f"<p><b>{p.label('meaning')}</b> {bounded_html(failed.meaning)}</p>\n")
    parts.append("</div>\n")
    parts.append(p.para("english_details", cls="note"))
    return "".join(parts)


def _summary(p: Page) -> str:
    """The plain summary: only what the verification established, in whole sentences."""
    parts = [p.h2("h_summary"), '<div class="summary" id="summary">\n']
    if p.data is None:
        return "".join([*parts, p.para("s_failed"), "</div>\n"])
    m = p.data.manifest
    for lang in p.langs:
        one = Page(p.report, p.data, p.context, (lang,))
        case = one.words("s_case", case=m.get("case"))[0][1] if m.get("case") else ""
        when = _when_words(m.get("capture_started"), lang)
        values: dict[str, Any] = {"when": when, "url": m.get("url"), "case": _Html(case)}
        if m.get("operator"):
            parts.append(one.para("s_preserved_by", operator=m.get("operator"), **values))
        else:
            parts.append(one.para("s_preserved", **values))
        parts.append(one.para("s_clock"))
        number = p.number
        if number is not None:
            parts.append(
                one.para(
                    "s_sealed", m=p.data.manifest_sha256, index=number.index, origin=number.origin, number=number.label
                )
            )
        else:
            parts.append(one.para("s_not_logged", m=p.data.manifest_sha256))
        facts = p.facts
        if p.verified("Signed time (the log's clock)") and facts.get("signed_time"):
            parts.append(one.para("s_clock_time", when=_when_words(facts["signed_time"], lang)))
        tsa = _independent_time(p)
        if tsa is not None:
            parts.append(one.para("s_tsa", when=_when_words(tsa[0], lang), file=tsa[1], tsa=tsa[2]))
        else:
            parts.append(one.para("s_no_tsa"))
        if p.verified("Witnesses"):
            parts.append(one.para("s_witnesses"))
    parts.append("</div>\n")
    return "".join(parts)


def _independent_time(p: Page) -> tuple[str, str, str] | None:
    """(time, token file, authority) of the earliest RFC 3161 time-stamp VERIFIED, if any."""
    if not p.verified("Independent time (RFC 3161)") or not p.facts.get("independent_time"):
        return None
    when = p.facts["independent_time"]
    tokens = p.facts.get("timestamps") or []
    first = next((t for t in tokens if t.get("grade") == "VERIFIED" and t.get("time") == when), None)
    name = str(first.get("file")) if first else ""
    detail = p.claims["Independent time (RFC 3161)"].detail
    found = re.search(re.escape(name) + r": VERIFIED: TSA (.+?) certifies that", detail) if name else None
    return when, name, found.group(1) if found else "?"


def _number(p: Page) -> str:
    """The evidence number and its QR code (only for an entry checked against a trusted log key)."""
    if p.data is None:
        return ""
    number = p.number
    if number is None:
        return p.h2("h_number", id="evidence-number") + p.para("no_number", cls="note")
    import segno

    qr = segno.make(number.qr_text(), error="m")
    uri = qr.png_data_uri(scale=4, border=4)
    alt = " / ".join(t for _, t in p.words("qr_alt"))
    return (
        p.h2("h_number", id="evidence-number") + f'<div class="number"><img id="qr" src="{uri}" alt="{alt}">\n<div>'
        f'<p class="label" id="number">{bounded_html(number.label)}</p>\n'
        f'<p class="mono">{bounded_html(number.qr_text())}</p>\n' + p.para("number_text") + "</div></div>\n"
    )


def _bundle(p: Page) -> str:
    c, r = p.context, p.report
    return "".join(
        [
            "<table>\n",
            p.row("bundle_file", c.bundle_name),
            p.row("bundle_sha", c.bundle_sha256, mono=True),
            p.row("bundle_size", c.bundle_size),
            p.row("checked_against", r.trust + (f" (from {c.trust_source})" if c.trust_source else "")),
            p.row("checked_by", f"{c.tool}, {c.made_at}"),
            "</table>\n",
        ]
    )


def _warnings(p: Page) -> str:
    capture_warnings = shown_list(field_at(p.data.capture, "warnings")) if p.data is not None else []
    other = [w for w in p.report.warnings if not any(w == c or w.endswith(c) for c in capture_warnings)]
    parts = []
    for items, key, id in ((capture_warnings, "capture_warnings", "capture-warnings"), (other, "warnings", "warnings")):
        if items:
            parts += [f'<div class="warnings" id="{id}">\n', p.h2("h_" + key), p.para(key), "<ul>\n"]
            parts += [f"<li>{bounded_html(w)}</li>\n" for w in items]
            parts.append("</ul>\n</div>\n")
    return "".join(parts)


def _screenshot(p: Page) -> str:
    d = p.data
    if d is None:
        return ""
    png, path, key = d.full_png, _FULL_SCREENSHOT, "h_screenshot"
    if png is None:
        png, path, key = d.screenshot_png, _SCREENSHOT, "h_screenshot_first"
    if png is None:
        return p.h2("h_screenshot_first") + (
            f'<p class="note">{bounded_html(d.screenshot_note)}</p>\n' if d.screenshot_note else ""
        )
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    alt = " / ".join(t for _, t in p.words("screenshot_alt"))
    return (
        p.h2(key)
        + f'<p><img class="shot" id="screenshot" src="{uri}" alt="{alt}"></p>\n'
        + p.para("screenshot_note", sha=hashlib.sha256(png).hexdigest(), path=path)
    )


def timeline(p: Page) -> str:
    """A walk's timeline: every step with its time, offset into the video and screenshot
    (:mod:`evidence.report.timeline`); nothing for a one-page capture."""
    if p.data is None or not p.data.timeline:
        return ""
    return p.h2("h_timeline") + p.para("timeline_note") + p.data.timeline


def clean_environment(p: Page) -> str:
    """The clean-environment check, item by item, as sealed in the bundle (what was observed
    and why it matters); nothing for a bundle made before the check existed."""
    if p.data is None or not p.data.clean_html:
        return ""
    return p.h2("h_clean") + p.para("clean_note") + p.data.clean_html


def _claims(p: Page) -> str:
    usable = p.data is not None
    parts = [p.h2("h_claims")]
    if usable:
        established = [c for c in p.report.claims if p.verified(c.name)]
        text = {
            "en": "; ".join(c.name for c in established) or _T["nothing"][0],
            "zh": "；".join(_CLAIM_ZH.get(c.name, c.name) for c in established) or _T["nothing"][1],
        }
        parts.append(p.para("claims_intro"))
        for lang, word in p.words("established"):
            end = "." if lang == "en" else "。"
            parts.append(
                f'<p id="established" lang="{_HTML_LANG[lang]}"><b>{word}</b> {bounded_html(text[lang])}{end}</p>\n'
            )
    else:
        parts.append("<p><b>" + p.label("claims_failed") + "</b></p>\n")
    parts.append(
        f'<table class="claims">\n<tr><th>{p.label("claim")}</th><td class="grade">{p.label("grade")}</td>'
        f"<td><b>{p.label('what_checked')}</b></td></tr>\n"
    )
    for c in p.report.claims:
        grade = p.each(c.grade.value, _GRADE_ZH.get(c.grade.value, c.grade.value))
        if usable and c.grade.value in _GRADE_WORDS:
            en, zh = _GRADE_WORDS[c.grade.value]
            grade += "<br>(" + p.each(en, zh) + ")"
        parts.append(
            f'<tr class="claim g-{c.grade.name}"><th>{p.each(c.name, _CLAIM_ZH.get(c.name, c.name))}</th>'
            f'<td class="grade">{grade}</td><td>{_detail(c.detail)}</td></tr>\n'
        )
    if not p.report.claims:
        parts.append(f'<tr><th>-</th><td class="grade">-</td><td>{p.label("no_claim")}</td></tr>\n')
    parts.append("</table>\n")
    return "".join(parts)


def _to_confirm(p: Page) -> str:
    from evidence.verify import Verdict

    if not p.report.to_confirm:
        return ""
    key = "to_confirm_ok" if p.report.verdict is Verdict.VERIFIED else "to_confirm_na"
    parts = [p.h2("h_to_confirm"), f'<div id="to-confirm">{p.para(key)}</div>\n<table>\n']
    for t in p.report.to_confirm:
        parts.append(
            f'<tr><th>{bounded_html(t.what)}</th><td>{bounded_html(t.identity)}<br><span class="mono">'
            f"{p.label('fingerprint')} {bounded_html(t.fingerprint)}</span><br>{bounded_html(t.how)}</td></tr>\n"
        )
    parts.append("</table>\n")
    return "".join(parts)


def _recorded(p: Page) -> str:
    d = p.data
    if d is None:
        return ""
    m, cap, env = d.manifest, d.capture, d.environment
    tls = field_at(cap, "tls")
    tool = m.get("tool")
    parts = [
        p.h2("h_recorded"),
        p.para("recorded_intro"),
        "" if p.verified("Recorded in the log") else p.para("seal_not_anchored", cls="note"),
        "<table>\n",
        p.row("url", m.get("url")),
        p.row("final_url", m.get("final_url")),
        p.row("status", field_at(cap, "status")),
        p.row("page_title", field_at(cap, "page_title")),
        p.row("started", m.get("capture_started")),
        p.row("finished", m.get("capture_finished")),
        p.row("case", m.get("case")),
        p.row("operator", m.get("operator")),
        p.row("server", f"{field_at(cap, 'server', 'ip')} port {field_at(cap, 'server', 'port')}"),
        p.row("dns", ", ".join(shown_list(field_at(cap, "dns", "answers")))),
        (
            p.row("tls", f"{field_at(tls, 'protocol')} {field_at(tls, 'cipher')}")
            if tls
            else f"<tr><th>{p.label('tls')}</th><td>{p.label('tls_none')}</td></tr>\n"
        ),
        p.row("server_cert", f"{field_at(tls, 'subject')} issued by {field_at(tls, 'issuer')}" if tls else "-"),
        p.row("tool", f"{field_at(tool, 'name')} {field_at(tool, 'version')}"),
        p.row("browser", field_at(env, "browser", "version")),
        p.row("os", field_at(env, "os", "platform")),
        "</table>\n",
    ]
    chain = field_at(cap, "redirect_chain")
    if isinstance(chain, list) and len(chain) >= 2:
        from evidence.report.derived import MAX_SHOWN_ITEMS

        parts += [p.h2("h_redirects"), "<table>\n"]
        for i, hop in enumerate(chain[:MAX_SHOWN_ITEMS]):
            parts.append(
                f"<tr><th>{p.label('redirect_step', n=i + 1, status=field_at(hop, 'status'))}</th>"
                f"<td>{bounded_html(field_at(hop, 'url'))}</td></tr>\n"
            )
        if len(chain) > MAX_SHOWN_ITEMS:
            parts.append(
                f"<tr><th>\u2026</th><td>and {len(chain) - MAX_SHOWN_ITEMS} more steps, in capture.json</td></tr>\n"
            )
        parts.append("</table>\n")
    return "".join(parts)


def _seal(p: Page) -> str:
    d = p.data
    if d is None:
        return ""
    files = d.manifest.get("files")
    parts = [
        p.h2("h_seal", id="seal"),
        p.para("seal_intro"),
        "<table>\n",
        p.row("manifest_sha", d.manifest_sha256, mono=True),
        f"<tr><th>{p.label('sealed_file')}</th><td>{p.label('sha_size')}</td></tr>\n",
    ]
    for f in files if isinstance(files, list) else []:
        parts.append(
            f"<tr><th>{bounded_html(field_at(f, 'path'))}</th>"
            f'<td class="mono">{bounded_html(field_at(f, "sha256"))} ({bounded_html(field_at(f, "size"))})</td></tr>\n'
        )
    parts.append("</table>\n")
    return "".join(parts)


def _grade_cell(p: Page, grade: str) -> str:
    return p.each(grade, _GRADE_ZH.get(grade, grade))


def _log_and_times(p: Page) -> str:
    """The log position (with the grade of "Recorded in the log") and every source of time, each graded."""
    if p.data is None:
        return ""
    facts, claims = p.facts, p.claims
    parts = [p.h2("h_log", id="log-position"), p.para("log_intro"), "<table>\n"]
    log_claim = claims.get("Recorded in the log")
    if facts.get("log_origin") is not None:
        parts += [
            p.row("log", facts.get("log_origin")),
            p.row("entry", facts.get("entry_index")),
            p.row("tree_size", facts.get("tree_size")),
            p.row("root", facts.get("root_hash"), mono=True),
        ]
    if log_claim is not None:
        parts.append(
            f"<tr><th>{p.each(log_claim.name, _CLAIM_ZH[log_claim.name])}</th>"
            f'<td class="g-{log_claim.grade.name}"><span class="grade">'
            f"{_grade_cell(p, log_claim.grade.value)}</span></td></tr>\n"
        )
    parts.append(
        f"</table>\n<table>\n<tr><th>{p.label('source')}</th><td><b>{p.label('time')}</b></td>"
        f"<td><b>{p.label('grade')}</b></td></tr>\n"
    )
    started = p.data.manifest.get("capture_started")
    parts.append(
        f"<tr><th>{p.label('src_capture')}</th><td>{p.when(started)}</td><td>{p.label('not_graded')}</td></tr>\n"
    )
    clock = claims.get("Signed time (the log's clock)")
    if clock is not None:
        when = p.when(facts["signed_time"]) if facts.get("signed_time") else "-"
        parts.append(
            f'<tr class="g-{clock.grade.name}"><th>{p.label("src_clock")}</th><td>{when}</td>'
            f'<td><span class="grade">{_grade_cell(p, clock.grade.value)}</span></td></tr>\n'
        )
    for t in facts.get("timestamps") or []:
        grade = str(t.get("grade"))
        when = p.when(t["time"]) if t.get("time") else "-"
        parts.append(
            f"<tr><th>{p.label('src_tsa', file=t.get('file'))}</th><td>{when}</td>"
            f'<td><span class="grade">{_grade_cell(p, grade)}</span></td></tr>\n'
        )
    parts.append("</table>\n")
    return "".join(parts)


def _steps(p: Page) -> str:
    from evidence.verify import STEP_TITLES

    parts = [p.h2("h_steps"), "<table>\n"]
    for s in p.report.steps:
        mark = " / ".join(t for _, t in p.words("pass" if s.ok else "fail"))
        files = f" File: {', '.join(s.files)}." if (not s.ok and s.files) else ""
        cls = "" if s.ok else ' class="fail"'
        title = p.each(s.title, _STEP_ZH.get(s.number, s.title))
        parts.append(
            f"<tr{cls}><th>{s.number}. {title}</th>"
            f"<td><b>{mark}</b>: {_detail(s.detail)}{bounded_html(files)}</td></tr>\n"
        )
    for n, t in STEP_TITLES.items():
        if n > len(p.report.steps):
            parts.append(
                f"<tr><th>{n}. {p.each(t, _STEP_ZH.get(n, t))}</th><td><b>{p.label('not_run')}</b></td></tr>\n"
            )
    parts.append("</table>\n")
    return "".join(parts)


def _how(p: Page) -> str:
    name = bounded_html(p.context.bundle_name)
    parts = [
        p.h2("h_how", id="how-to-verify"),
        p.para("how_intro"),
        p.para("how_command"),
        f"<pre>evidence verify {name} --trust trust.policy\n"
        f"evidence report {name} -o certificate.pdf --trust trust.policy</pre>\n",
        p.para("how_page"),
        p.para("how_hand"),
    ]
    if p.data is not None:
        parts.append(
            f"<pre>unzip {name} -d bundle\nsha256sum bundle/evidence/manifest.json\n  {p.data.manifest_sha256}</pre>\n"
        )
        if p.number is not None:
            parts += [
                p.para("how_lookup"),
                f"<pre>evidence lookup {name} --log URL-OF-THE-LOG --trust trust.policy</pre>\n",
            ]
    return "".join(parts)


def _glossary(p: Page) -> str:
    parts = [p.h2("h_glossary"), '<dl class="glossary">\n']
    for key in ("g_hash", "g_manifest", "g_log", "g_tsa", "g_witness", "g_grade"):
        parts.append(f"<dt>{p.label(key)}</dt><dd>{p.label(key + '_d')}</dd>\n")
    parts.append("</dl>\n")
    return "".join(parts)


def _what(p: Page) -> str:
    return p.h2("h_what") + p.para("what") + "</body></html>\n"


#: The certificate, section by section, in order (see the module docstring).
SECTIONS: tuple[tuple[str, Section], ...] = (
    ("head", _head),
    ("summary", _summary),
    ("evidence_number", _number),
    ("bundle", _bundle),
    ("warnings", _warnings),
    ("screenshot", _screenshot),
    ("timeline", timeline),
    ("clean_environment", clean_environment),
    ("claims", _claims),
    ("to_confirm", _to_confirm),
    ("recorded", _recorded),
    ("seal", _seal),
    ("log_and_times", _log_and_times),
    ("steps", _steps),
    ("how_to_verify", _how),
    ("glossary", _glossary),
    ("what", _what),
)


def render_certificate(
    report: Report,
    data: CertifiedData | None,
    context: CertificateContext,
    *,
    langs: Sequence[str] = ("en",),
    sections: Sequence[tuple[str, Section]] = SECTIONS,
) -> bytes:
    """The certificate of preservation: a pure function of a verification and the data it checked.

    One self-contained HTML file (images as ``data:`` URIs, no script, a Content-Security-
    Policy that forbids every request). ``data`` is shown only for a bundle whose integrity
    was VERIFIED (verdict VERIFIED or NOT ANCHORED); for FAILED or UNUSABLE the certificate
    says so and shows nothing the bundle claims about itself. ``langs``: ``("en",)``,
    ``("zh",)`` or both, in the order given.
    """
    from evidence.verify import Grade, Verdict

    langs = tuple(langs)
    if not langs or any(x not in LANGUAGES for x in langs):
        raise ValueError(f"languages must be among {LANGUAGES}, not {langs}")
    integrity = next((c for c in report.claims if c.name.startswith("Integrity")), None)
    usable = report.verdict in (Verdict.VERIFIED, Verdict.NOT_ANCHORED) and (
        integrity is None or integrity.grade is Grade.VERIFIED
    )
    page = Page(report, data if usable else None, context, langs)
    # Invisible and direction-changing characters from the bundle are shown as [U+202E]: a URL
    # or name on the certificate reads as what it is.
    return visible_text("".join(section(page) for _, section in sections)).encode("utf-8")
