"""Errors and diagnostics: every user-facing problem has a code, a location and a hint."""

from __future__ import annotations

import contextlib
import difflib
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A place in a user's file. Lines and columns start at 1; 0 means unknown."""

    path: Path
    line: int = 0
    col: int = 0

    def render(self, base: Path | None = None) -> str:
        path = self.path
        if base is not None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
                path = path.resolve().relative_to(base.resolve())
        text = str(path)
        if self.line:
            text += f":{self.line}"
            if self.col:
                text += f":{self.col}"
        return text


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a user's project: what, where, and how to fix it."""

    code: str
    message: str
    location: Location | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self, base: Path | None = None) -> dict[str, object]:
        loc = self.location
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": loc.render(base).split(":")[0] if loc else None,
            "line": loc.line if loc else None,
            "col": loc.col if loc else None,
            "hint": self.hint,
        }


class DpsqlError(Exception):
    """The root of every error caused by the user's project; carries one or more diagnostics."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


def error(
    code: str, message: str, location: Location | None = None, hint: str | None = None
) -> Diagnostic:
    return Diagnostic(code, message, location, hint, Severity.ERROR)


def warning(
    code: str, message: str, location: Location | None = None, hint: str | None = None
) -> Diagnostic:
    return Diagnostic(code, message, location, hint, Severity.WARNING)


def closest(name: str, options: Iterable[str], *, cutoff: float = 0.6) -> str | None:
    """The option most like `name` (compared case-insensitively), if one is close enough."""
    by_lower = {o.lower(): o for o in sorted(options)}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[close[0]] if close else None


def did_you_mean(name: str, options: Iterable[str], *, cutoff: float = 0.6) -> str:
    """A hint for a misspelt name: the closest option, else the known ones."""
    names = sorted(options)
    close = closest(name, names, cutoff=cutoff)
    if close is not None:
        return f"did you mean `{close}`?"
    return f"known: {', '.join(names)}" if names else "none are defined"


def error_text(exc: BaseException) -> str:
    """The first line of an exception's message (DuckDB's errors run on with context lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def raise_if_errors(diagnostics: Iterable[Diagnostic]) -> None:
    found = [d for d in diagnostics if d.is_error]
    if found:
        raise DpsqlError(found)


# The catalogue of codes. Documented in docs/diagnostics.md; a test keeps the two in step.
CODES: dict[str, str] = {
    "DP001": "a workspace file cannot be read: YAML that does not parse, or not UTF-8 text",
    "DP002": "unknown key in a YAML file",
    "DP003": "missing or invalid value in a YAML file",
    "DP004": "duplicate product name",
    "DP005": "duplicate model or input name in a product",
    "DP006": "workspace file dpsql.yml not found",
    "DP007": "file input not found, or not a regular file",
    "DP008": "output port refers to a missing model",
    "DP009": "target/ cannot be written",
    "DP010": "`dpsql import dbt`: the source folder holds no dbt_project.yml",
    "DP011": "`dpsql import dbt`: the destination exists and is not an empty folder",
    "DP012": "`dpsql import dbt`: the dbt project has no models",
    "DP013": "`models:` in product.yml names a model the product does not have",
    "DP014": "--target or `target:` names a target dpsql.yml does not declare",
    "DP101": "Jinja syntax error",
    "DP102": "undefined name or error while rendering a template",
    "DP103": "ref() to an unknown model or port",
    "DP104": "input() of an undeclared input",
    "DP105": "var() or env_var() not set",
    "DP106": "invalid config() call",
    "DP107": "a template function called with the wrong arguments",
    "DP108": "a template loads a file that is not a macro file",
    "DP109": "a template goes past a limit of the sandbox",
    "DP115": "the template called exceptions.raise_compiler_error()",
    "DP116": "a config() option dpsql does not use (warning)",
    "DP201": "SQL syntax error",
    "DP202": "model is not a single SELECT",
    "DP203": "relation is neither a model of the product nor a declared input",
    "DP204": "reads another product's internal relation",
    "DP205": "reads another product's port without declaring it as an input",
    "DP206": "cycle between models",
    "DP207": "cycle between products",
    "DP208": "model does not bind: DuckDB rejects it against its upstream schemas",
    "DP209": "input port names a product or port that does not exist",
    "DP210": "a table input is neither in the warehouse nor declares its columns",
    "DP211": "a construct of a model has no faithful translation for the target's engine",
    "DP212": "a model's column type has no type in the target's engine",
    "DP301": "a port's model does not produce a column of its contract",
    "DP302": "a port's model produces a column its contract does not declare",
    "DP303": "a port's column has another name than in its contract",
    "DP304": "a port's columns are in another order than in its contract",
    "DP305": "a port's column has another type than in its contract",
    "DP306": "an output port has no contract (warning)",
    "DP307": "a model reads a column that the contract of the port it reads does not have",
    "DP308": "an input expects a column its producer does not provide",
    "DP309": "an input expects a type its producer's type does not widen to",
    "DP310": "an input's version range does not allow the producer's version",
    "DP311": "a declared input is never read (warning)",
    "DP312": "an input reads a deprecated port (warning until its sunset date)",
    "DP313": "an input reads a deprecated port whose sunset date has passed",
    "DP401": "model failed to build",
    "DP402": "warehouse cannot be opened",
    "DP403": "a query given to `dpsql query` failed",
    "DP404": "an output port's model is ephemeral",
    "DP405": "unique_key set on a model that is not incremental",
    "DP406": "unique_key names a column the model does not produce",
    "DP407": "an incremental model's columns changed since its table was built",
    "DP408": "a relation read from outside the selection is not in the warehouse",
    "DP409": "a published upstream port lacks a column, or a type, its consumer expects",
    "DP410": "a published upstream port's version is outside its consumer's range",
    "DP411": "a built port does not match its contract; it was not published",
    "DP412": "`dpsql query` was given something other than one read-only statement",
    "DP413": "dpsql's fingerprint table in the warehouse was damaged; it was recreated (warning)",
    "DP414": "the target's engine cannot be started: not installed, no Java, or unreachable",
    "DP601": "unknown data test (neither built in nor a `{% test %}` block)",
    "DP602": "invalid arguments or config of a data test",
    "DP603": "relationships test points at no port, model or input",
    "DP604": "data test failed: its query returned rows",
    "DP605": "data test could not run",
    "DP606": "a data test with severity warn found rows (warning)",
    "DP501": "`dpsql lineage` names no product, model, port, input or column",
    "DP502": "column lineage of a model is incomplete",
    "DP701": "the base of a comparison is neither a git revision nor a folder",
    "DP702": "the workspace is not in a git repository and no --base path was given",
    "DP703": "the base of a comparison is not a workspace, or does not load",
    "DP704": "a product's declared version bump is smaller than its changes need",
    "DP705": "a change breaks a consumer of the port (warning)",
    "DP801": "unknown policy rule or key under `policies:`",
    "DP802": "`policies: domains:` names a domain that no product has",
    "DP803": "a column's classification is not declared under `policies: classifications:`",
    "DP804": "a `masked_by` name is not a function",
    "DP805": "a product lacks an owner or a description that `policies: require:` asks for",
    "DP806": "an output port has no contract, which `policies: require:` asks for",
    "DP807": "an input reads a port of a domain that `policies: domains:` does not allow",
    "DP808": "a port column carries a classification it does not declare",
    "DP809": "a port column declares a classification that nothing carries (warning)",
}
