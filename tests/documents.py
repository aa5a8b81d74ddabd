"""Documents as systems hold them, made in the tests: a PDF with a text layer, an office
document (OOXML) whose text Word split into runs, an image."""

from __future__ import annotations

import io
import zipfile

from dsar.demo.files import text_pdf


def make_pdf(text: str) -> bytes:
    """A one-page PDF whose text layer says ``text``."""
    return text_pdf(text)


def make_docx(*runs: str) -> bytes:
    """A Word document of one paragraph made of ``runs`` (as Word splits text it formats or
    spell-checks)."""
    body = "".join(f"<w:r><w:t>{r}</w:t></w:r>" for r in runs)
    document = (
        '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body><w:p>{body}</w:p><w:p><w:r><w:t>Kind regards</w:t></w:r></w:p></w:body></w:document>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in (("[Content_Types].xml", '<?xml version="1.0"?><Types/>'), ("word/document.xml", document)):
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), text)  # the same bytes every time
    return buf.getvalue()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # an image: nothing in it can be read as text
