"""What makes the report's PDF an archival, accessible document: PDF/A-3u and PDF/UA-1 at once, the edition's
sources embedded in it, and the same bytes from the same inputs.

WeasyPrint 70 offers one `pdf_variant` at a time, not the pair, so the PDF is written as ``pdf/a-3u`` (output
intent, identifier, PDF/A metadata, AF relationships of attachments) with ``pdf_tags=True`` (the structure tree,
/MarkInfo, /DisplayDocTitle, /Tabs that PDF/UA needs), and a finisher completes what neither variant writes for the
pair: the PDF/UA identification in the XMP packet, declared as a PDF/A extension schema (PDF/A allows no undeclared
XMP property), an uncompressed metadata stream (PDF/A forbids a /Filter on it), and an unambiguous end of every
stream (see `_EolSafe`).

Embedded files are PDF/A-3 associated files of the document (catalog /AF): edition.toml, metrics.csv and
references.csv exactly as they were read, with /AFRelationship /Source, and a manifest (edition, data fingerprint,
code version, build time) with /AFRelationship /Data. Their dates, like the PDF's own (from the print HTML's
``dcterms.created``), are the edition's date, never the wall clock, and the file identifier is a digest of the
content, so a rebuild of the same inputs with the same code gives the same bytes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, cast

import pydyf
from weasyprint import Attachment

from pipeline.lib.changes.basis import BASIS_FILE
from pipeline.lib.errors import ReportError
from pipeline.lib.fetcher import ProjectURLFetcher
from pipeline.lib.sources import EDITION_FILES

if TYPE_CHECKING:
    from pipeline.lib.validate import ValidatedEdition

PDF_VARIANT = "pdf/a-3a"
#: The standards the PDF claims, as the validator names its profiles.
PROFILES = ("ua1", "3a")
MANIFEST_NAME = "build-manifest.json"
MANIFEST_FORMAT = 1
#: MIME types of the embedded files, fixed here so they do not depend on the machine's mime.types.
MIME_TYPES = {".toml": "application/toml", ".csv": "text/csv", ".json": "application/json"}

#: The PDF/UA identification (ISO 14289-1, 5) and its declaration as a PDF/A extension schema (ISO 19005-3, 6.6.2.3).
_PDFUA_XMP = b"""<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" \
xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
<pdfaProperty:name>part</pdfaProperty:name>
<pdfaProperty:valueType>Integer</pdfaProperty:valueType>
<pdfaProperty:category>internal</pdfaProperty:category>
<pdfaProperty:description>Part of ISO 14289 to which the document conforms</pdfaProperty:description>
</rdf:li></rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>
<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/"><pdfuaid:part>1</pdfuaid:part>\
</rdf:Description>
"""


class ArchivalError(ReportError):
    """The edition cannot be embedded as the PDF's sources (e.g. its date is not a calendar date)."""


@dataclass(frozen=True)
class EmbeddedSources:
    """What a PDF carries about its own making: the edition's files as read, and the facts of the build."""

    edition: str
    date: dt.date  # the edition's date: the PDF's creation date and the build time of the manifest
    files: dict[str, bytes]  # file name -> bytes, as read from the edition folder
    fingerprint: str  # sha256 over the files (pipeline.lib.sources)
    code_version: str  # templates and library code (pipeline.lib.code_version.report_code_version)
    basis: bytes | None = None  # what the "what changed" section compared with (pipeline.lib.changes.basis)
    report: str = ""  # the report's id: which report folder rebuilds it (`pipeline verify`)

    @classmethod
    def of(cls, edition: ValidatedEdition, code_version: str, basis: bytes | None = None,
           report: str = "") -> EmbeddedSources:
        meta = cast("dict[str, object]", edition.meta.get("edition", {}))  # a table (validate.check_meta)
        return cls(edition.name, edition_date(meta.get("date")), dict(edition.contents), edition.fingerprint,
                   code_version, basis, report)

    @property
    def built_at(self) -> str:
        return f"{self.date.isoformat()}T00:00:00Z"

    def manifest(self) -> dict[str, object]:
        import hashlib

        return {
            "format": MANIFEST_FORMAT,
            **({"report": self.report} if self.report else {}),
            "edition": self.edition,
            "built_at": self.built_at,
            "fingerprint": self.fingerprint,
            "code_version": self.code_version,
            "renderer": f"WeasyPrint {version('weasyprint')}",
            "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                      for name, data in sorted(self.files.items())},
        }

    def manifest_bytes(self) -> bytes:
        return (json.dumps(self.manifest(), ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def edition_date(value: object) -> dt.date:
    """The edition's `date` (YYYY-MM-DD, as edition.toml gives it) as a date."""
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ArchivalError(f"edition.toml: date {value!r} is not a calendar date (YYYY-MM-DD); the PDF's creation "
                            "date and the build time of its embedded manifest are taken from it") from None


def _mime(name: str) -> str:
    return next((mime for suffix, mime in MIME_TYPES.items() if name.endswith(suffix)), "application/octet-stream")


def attachments(sources: EmbeddedSources) -> list[Attachment]:
    """The embedded files as WeasyPrint attachments: source files first (in the edition's file order), then the
    manifest; dates are the edition's, MIME types fixed (data: URLs carry them), so nothing varies by machine."""
    moment = dt.datetime.combine(sources.date, dt.time(0, 0))
    fetcher = ProjectURLFetcher([])  # data: URLs only
    names = [n for n in EDITION_FILES if n in sources.files] + sorted(set(sources.files) - set(EDITION_FILES))
    items = [(name, sources.files[name], "Source", f"{name} of edition {sources.edition}, as read for this build")
             for name in names]
    if sources.basis is not None:
        items.append((BASIS_FILE, sources.basis, "Data",
                      "the figures of the version this one is compared with in its 'what changed' section"))
    items.append((MANIFEST_NAME, sources.manifest_bytes(), "Data",
                  "edition, data fingerprint, code version and build time of this PDF"))
    return [
        Attachment(url=f"data:{_mime(name)};base64,{base64.b64encode(data).decode('ascii')}", url_fetcher=fetcher,
                   name=name, description=description, created=moment, modified=moment, relationship=relationship)
        for name, data, relationship, description in items
    ]


def write_options(sources: EmbeddedSources | None) -> dict[str, object]:
    """Keyword arguments of WeasyPrint's `Document.write_pdf` for a PDF/A-3u + PDF/UA-1 file."""
    return {
        "pdf_variant": PDF_VARIANT,
        "pdf_tags": True,
        "pdf_identifier": True,  # md5 of the content (pydyf): the same bytes give the same identifier
        "attachments": attachments(sources) if sources is not None else None,
        "finisher": finish,
    }


class _EolSafe:
    """A stream whose data ends with CR gets CR LF before `endstream`, not pydyf's bare LF.

    PDF/A counts the end-of-line marker before `endstream` out of /Length, and CR LF is such a marker: data ending
    in CR followed by LF reads as one byte shorter than /Length says. Compressed data ends with its Adler-32
    checksum, so about one stream in 256 ends with CR whatever the compression level (here: a chart's transparency
    group). The data, once built, is kept: with an identifier, pydyf builds (compresses) every object twice."""

    @property
    def data(self) -> bytes:
        cached = self.__dict__.get("_archival_data")
        if cached is None:
            cached = super().data  # type: ignore[misc]  # a mixin: _eol_safe puts a pydyf.Stream class after it
            if cached.endswith(b"\r\nendstream"):
                cached = cached[: -len(b"\nendstream")] + b"\r\nendstream"
            self.__dict__["_archival_data"] = cached
        return cached


_SAFE_CLASSES: dict[type, type] = {}


def _eol_safe(obj: object) -> None:
    if isinstance(obj, pydyf.Stream) and not isinstance(obj, _EolSafe):
        cls = type(obj)
        if cls not in _SAFE_CLASSES:
            _SAFE_CLASSES[cls] = type(f"EolSafe{cls.__name__}", (_EolSafe, cls), {})
        obj.__class__ = _SAFE_CLASSES[cls]


class _ArchivalPDF(pydyf.PDF):
    """pydyf's PDF whose object and cross-reference streams, created while writing, are made `_EolSafe` too."""

    def add_object(self, object_):
        _eol_safe(object_)
        super().add_object(object_)


def finish(document, pdf: pydyf.PDF) -> None:
    """WeasyPrint's finisher: completes the PDF/UA identification and the PDF/A details, just before writing."""
    metadata = pdf.objects[int(pdf.catalog["Metadata"].split()[0])]
    packet = b"".join(metadata.stream)
    end = packet.rindex(b"</rdf:RDF>")
    metadata.stream = [packet[:end] + _PDFUA_XMP + packet[end:]]
    metadata.compress = False  # PDF/A: no /Filter on the document's metadata stream
    if "AF" in pdf.catalog:  # WeasyPrint 70 lists each attachment twice (from the name tree and from the objects)
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))
    for obj in pdf.objects:
        _eol_safe(obj)
    pdf.__class__ = _ArchivalPDF
