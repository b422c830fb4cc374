"""deploy's jinja2 templates: the stand-in shim, the bitstream script, the bundle README."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent), undefined=StrictUndefined,
                   keep_trailing_newline=True)


def render(template: str, **values) -> str:
    return _ENV.get_template(template).render(**values)
