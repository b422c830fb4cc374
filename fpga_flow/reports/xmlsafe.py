"""XML through defusedxml: no DTDs, no entity expansion (billion laughs), no external
entities (XXE). Vendor reports never need any of these, so a file using them is refused."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_tree
from defusedxml import DefusedXmlException

from fpga_flow.reports.model import ReportParseError


def parse_xml(data: bytes, path: Path | str) -> Element:
    try:
        return safe_tree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ReportParseError(path, f"refused unsafe XML ({type(exc).__name__}): vendor reports have no DTD or entities") from None
    except ParseError as exc:
        raise ReportParseError(path, f"not well-formed XML ({exc})") from None


def child_text(element: Element | None, path: str) -> str | None:
    """Stripped text of ``element.find(path)``, None when missing or empty."""
    if element is None:
        return None
    found = element.find(path)
    if found is None or found.text is None:
        return None
    text = found.text.strip()
    return text or None
