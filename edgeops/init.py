"""``edgeops init``: a commented edgeops.yaml for a zip, folder or CSV of labelled images.

One pass: refuse to overwrite (before reading anything), scan the source with the scanner the
plan uses (a rejected source raises the plan's own ``DatasetError``), size the training budget
with the plan's estimate, render the YAML from a template with comments, check it with the real
loader, then write every file or none. Nothing here writes to the terminal: ``summary`` returns
the text ``cmd_init`` prints.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import unicodedata
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edgeops import __version__
from edgeops.errors import EdgeopsError
from edgeops.progress import Reporter

if TYPE_CHECKING:
    from edgeops.datasets.manifest import Manifest

SourceKind = Literal["zip", "folder", "csv"]

NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")
NAME_RULE = "lowercase letters, digits, '_' or '-', starting with a letter, at most 63 characters"
DEFAULT_NAME = "photos"  # without --from: the dataset is `folder: data/photos`
SCHEMA_FILE = "edgeops.schema.json"  # beside edgeops.yaml; the modeline points at it
STATE_DIR = ".edgeops"  # the local backend's default path: state and this machine's cache
STATE_ENV = "EDGEOPS_STATE"  # with --ci github: the state folder on the CI runner
OPTIMIZE_FOR = "latency"
HEADROOM = 2.0  # the local budget is the estimated wall time times this, rounded up
NODE_HOURS = (0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 36, 48, 72, 100)
DEFAULT_NODE_HOURS = 0.1  # the schema's default, when no images were scanned
GOOGLE_NODE_HOURS = 1  # the AutoML Edge minimum
GATE = {"min_precision": 0.7, "min_recall": 0.6, "min_au_prc": 0.7}
WORKFLOWS = {"plan.yml": "edgeops-plan.yml", "apply.yml": "edgeops-apply.yml"}
_REPO_WORKFLOWS = Path(__file__).resolve().parents[1] / "examples" / "ci" / "github"


@dataclass(frozen=True)
class Request:
    config: Path  # the edgeops.yaml to write; its folder is the root of relative paths
    source: Path | None = None  # a .zip, a folder or a .csv; None writes a template
    backend: Literal["local", "google"] = "local"
    name: str | None = None  # dataset, model and publish name (default: from the source)
    multi_label: bool = False
    ci: Literal["github"] | None = None
    force: bool = False


@dataclass(frozen=True)
class Budget:
    node_hours: float
    comment: tuple[str, ...]  # the YAML comment lines saying how it was sized


@dataclass(frozen=True)
class Result:
    request: Request
    name: str
    source: str  # as written in edgeops.yaml ("" for a template)
    kind: SourceKind
    counts: dict[str, dict[str, int]]  # label -> split -> images (empty for a template)
    warnings: tuple[str, ...]  # the scanner's, worded as the plan words them
    budget: Budget
    written: tuple[str, ...]  # paths relative to the working directory
    kept: tuple[str, ...]  # files left as they were (already there)


def scaffold(request: Request, reporter: Reporter) -> Result:
    """Scan ``request.source``, then write edgeops.yaml and its companions (all or none)."""
    config = request.config.absolute()
    root = config.parent
    name = dataset_name(request.source, request.name)
    files = _companions(request, root)
    _refuse_overwrite(request, config, files)
    state = root / STATE_DIR
    had_state = state.exists()
    try:
        if request.source is None:
            kind: SourceKind = "folder"
            source = f"data/{name}"
            counts: dict[str, dict[str, int]] = {}
            warnings: tuple[str, ...] = ()
            n_images: int | None = None
        else:
            kind = source_kind(request.source)
            source = _relative(request.source.absolute(), root)
            manifest = _scan(name, kind, request, root, reporter)
            counts, warnings = manifest.label_counts(), manifest.warnings
            n_images = len(manifest.images)
        budget = size_budget(n_images, request.backend)
        text = render_config(request, name, kind, source, counts, budget)
        files[config] = text
        gitignore = root / ".gitignore"
        ignored = gitignore_text(gitignore.read_text("utf-8") if gitignore.is_file() else None)
        if ignored is not None:
            files[gitignore] = ignored
        written, kept = _write_all(files, root, check=config)
    except BaseException:
        if not had_state and state.is_dir():  # the scan's hash cache: leave nothing behind
            shutil.rmtree(state, ignore_errors=True)
        raise
    return Result(request, name, source, kind, counts, warnings, budget, written, kept)


# naming and sources


def dataset_name(source: Path | None, explicit: str | None) -> str:
    """``explicit`` if it follows the name rule (else an error), or one derived from the
    source's file or folder name."""
    if explicit is not None:
        if NAME_RE.fullmatch(explicit) is None:
            hint = _normalise(explicit)
            raise EdgeopsError(
                f"--name '{explicit}': a name is {NAME_RULE}"
                + (f"; e.g. --name {hint}" if hint else "")
            )
        return explicit
    if source is None:
        return DEFAULT_NAME
    path = source.absolute()
    stem = path.name if path.is_dir() else path.stem
    return _normalise(stem) or DEFAULT_NAME


def _normalise(text: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^a-z0-9_-]+", "-", ascii_.lower())
    name = re.sub(r"^[^a-z]+", "", name)
    return name[:63].rstrip("_-")


def source_kind(source: Path) -> SourceKind:
    if source.is_dir():
        return "folder"
    suffix = source.suffix.lower()
    if not source.exists():
        raise EdgeopsError(
            f"--from {source}: not found; give a zip or a folder with one folder per label, "
            "or a CSV index (rows `path,label`)"
        )
    if suffix == ".zip":
        return "zip"
    if suffix == ".csv":
        return "csv"
    raise EdgeopsError(
        f"--from {source}: not a .zip, a folder or a .csv; give a zip or a folder with one "
        "folder per label, or a CSV index (rows `path,label`)"
    )


def _relative(path: Path, root: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _shown(path: Path) -> str:
    """``path`` for messages: relative to the working directory."""
    return _relative(path, Path.cwd())


def _scan(
    name: str, kind: SourceKind, request: Request, root: Path, reporter: Reporter
) -> Manifest:
    """The source's Manifest, scanned exactly as ``edgeops plan`` will (same cache)."""
    from edgeops.config.model import DatasetSpec, SourceSpec
    from edgeops.datasets import scan_dataset

    assert request.source is not None
    spec = DatasetSpec(
        name=name,
        source=SourceSpec(kind=kind, path=request.source.absolute()),
        multi_label=request.multi_label,
    )
    from edgeops.backends import data_rules_of

    cache = root / STATE_DIR / "cache" / "hashes.sqlite"
    rules = data_rules_of(request.backend)
    return scan_dataset(spec, root=root, cache_path=cache, reporter=reporter, rules=rules)


# the budget


def size_budget(n_images: int | None, backend: str) -> Budget:
    """node_hours for ``n_images``: on the local backend the plan's wall-time estimate with
    headroom, rounded up to a round value; on google the AutoML Edge minimum."""
    from edgeops.plan.render import fmt_seconds

    if backend == "google":
        return Budget(
            GOOGLE_NODE_HOURS,
            (
                f"{GOOGLE_NODE_HOURS} node hour, the AutoML Edge minimum (it takes 1 to 100; "
                "Vertex AI's",
                "default is 24): `edgeops plan` shows the cost ceiling at price_per_node_hour;",
                "early stopping ends training sooner when the model converges",
            ),
        )
    if n_images is None:
        cap = fmt_seconds(DEFAULT_NODE_HOURS * 3600)
        return Budget(
            DEFAULT_NODE_HOURS,
            (
                f"the default, at most {cap} of wall time: no images were scanned yet;",
                "`edgeops plan` shows the estimated training time once they are in place",
            ),
        )
    estimate = _estimate_seconds(n_images, OPTIMIZE_FOR)
    wanted = estimate * HEADROOM / 3600
    node_hours = next((h for h in NODE_HOURS if h >= wanted), NODE_HOURS[-1])
    lines = [
        f"estimate for {n_images} images on this machine: ~{fmt_seconds(estimate)}, as "
        "`edgeops plan` shows it;",
        f"x{HEADROOM:g} headroom, rounded up: {node_hours:g} node hours = at most "
        f"{fmt_seconds(node_hours * 3600)} of wall time",
    ]
    if wanted > node_hours:
        lines.append("(the schema's maximum: training stops there; see the google backend)")
    return Budget(node_hours, tuple(lines))


def _estimate_seconds(n_images: int, optimize_for: str) -> float:
    """The local trainer's estimate, the one ``edgeops plan`` shows (the only call here)."""
    from edgeops.backends import local_training_estimate

    return local_training_estimate(n_images, optimize_for)


# rendering


def render_config(
    request: Request,
    name: str,
    kind: SourceKind,
    source: str,
    counts: dict[str, dict[str, int]],
    budget: Budget,
) -> str:
    """edgeops.yaml's text: every value the schema's, every choice explained in a comment."""
    made_by = "edgeops init" + (
        f" --from {shlex.quote(str(request.source))}" if request.source else ""
    )
    lines = [
        f"# yaml-language-server: $schema=./{SCHEMA_FILE}",
        f"# Written by `{made_by}` (edgeops {__version__}). Every key is",
        "# described in edgeops' README (Configuration reference) and on hover in your editor.",
        "# `edgeops plan` shows what `edgeops apply` would do: train, evaluate, gate, publish.",
        "version: 1",
        "",
        "backend:",
        *_backend_lines(request),
        "",
        "datasets:",
        f"  {name}:",
        "    source:",
        f"      {kind}: {_yaml_str(source)}  # {_source_comment(kind, counts)}",
    ]
    if request.multi_label:
        lines.append("    multi_label: true  # an image may carry several labels")
    lines += [
        "    # from each image's content hash: adding images never moves an existing one",
        "    split: {train: 80, validation: 10, test: 10}",
        "",
        "models:",
        f"  {name}:",
        f"    dataset: {name}",
        f"    optimize_for: {OPTIMIZE_FOR}  # {_optimize_comment(request.backend)}",
        "    budget:",
        *(f"      # {line}" for line in budget.comment),
        f"      node_hours: {budget.node_hours:g}",
        "      early_stopping: true  # stop when the validation loss stops improving",
        "    threshold:",
        "      max_f1: true  # the confidence threshold with the best F1 on the validation split",
        "    gate:",
        "      # conservative first bars, on the test split at that threshold: a version below any",
        "      # of them is kept but not published. Raise them once",
        f"      # `edgeops eval model.{name}` shows what your model reaches.",
        *(f"      {key}: {value:g}" for key, value in GATE.items()),
        "",
        "publish:",
        f"  {name}:",
        "    bundle:  # the .tflite with labels and metadata; point it at your app's assets",
        f"      path: app/src/main/assets/{name}.tflite",
        "      format: int8  # full-integer quantized: about 4x smaller and faster on phones",
    ]
    return "\n".join(lines) + "\n"


def _backend_lines(request: Request) -> list[str]:
    if request.backend == "google":
        return [
            "  google:",
            "    # FILL IN: your Google Cloud project and a Cloud Storage bucket (in `location`)",
            "    # for images, exported models and edgeops' state. ${VAR:-placeholder} reads the",
            "    # environment first: replace the placeholders, or set the variables (e.g. in CI).",
            '    project: "${GOOGLE_CLOUD_PROJECT:-your-project-id}"',
            "    location: us-central1",
            '    bucket: "${EDGEOPS_BUCKET:-your-bucket-name}"',
            "    prefix: edgeops",
        ]
    if request.ci is not None:
        return [
            "  local:",
            "    # live state (registry, image store, model versions) and this machine's cache:",
            f"    # {STATE_DIR} here; in CI the folder {STATE_ENV} names in .github/workflows/",
            f'    path: "${{{STATE_ENV}:-{STATE_DIR}}}"',
        ]
    return [
        "  local:",
        f"    path: {STATE_DIR}  # live state (registry, image store, model versions) and this"
        " machine's cache",
    ]


def _source_comment(kind: SourceKind, counts: dict[str, dict[str, int]]) -> str:
    shape = {
        "zip": "one folder per label",
        "folder": "one folder of images per label",
        "csv": "rows `path,label`, paths relative to the CSV",
    }[kind]
    if not counts:
        return f"{shape}, at least 10 images each"
    n = sum(sum(splits.values()) for splits in counts.values())
    return f"{shape} ({n} images, {len(counts)} labels when written)"


def _optimize_comment(backend: str) -> str:
    if backend == "google":
        return "MOBILE_TF_LOW_LATENCY_1; `balanced`, `accuracy` are larger"
    return "EfficientNet-Lite0, 224 px; `balanced`, `accuracy` are larger"


def _yaml_str(value: str) -> str:
    """``value`` as a YAML scalar the loader reads back unchanged (``${`` escaped)."""
    import yaml

    value = value.replace("${", "$${")
    plain = re.fullmatch(r"[A-Za-z0-9_./][A-Za-z0-9_./ -]*", value) and not value.endswith(" ")
    if plain and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def gitignore_text(existing: str | None) -> str | None:
    """.gitignore with the state folder ignored, or None when it already is."""
    lines = (existing or "").splitlines()
    if any(line.strip().strip("/") == STATE_DIR for line in lines):
        return None
    head = existing or ""
    if head and not head.endswith("\n"):
        head += "\n"
    return head + f"# edgeops: live state and this machine's cache\n{STATE_DIR}/\n"


def workflows(backend: str) -> dict[str, str]:
    """The GitHub Actions workflows (file name -> text) of examples/ci/github; on the local
    backend with the state folder on the runner as a value to fill in."""
    out = {}
    for template, name in WORKFLOWS.items():
        text = _workflow_template(template)
        if backend == "local":
            state = (
                "env:\n"
                "  # FILL IN: the folder on the self-hosted runner that holds edgeops' live\n"
                "  # state (backend.local.path in edgeops.yaml reads it): an absolute path that\n"
                "  # persists between jobs, outside the checkout (actions/checkout cleans it),\n"
                "  # the same in edgeops-plan.yml and edgeops-apply.yml.\n"
                f"  {STATE_ENV}: /FILL-IN/edgeops-state\n\n"
            )
            if "\njobs:\n" not in text:
                raise AssertionError(f"examples/ci/github/{template} has no top-level `jobs:`")
            text = text.replace("\njobs:\n", "\n" + state + "jobs:\n", 1)
        text = re.sub(
            r"^# Copy to \.github/workflows/.*$",
            f"# Written by `edgeops init --ci github` as .github/workflows/{name}.",
            text,
            count=1,
            flags=re.MULTILINE,
        )
        out[name] = text
    return out


def _workflow_template(name: str) -> str:
    """From the wheel's data folder (pyproject force-includes it) or the source checkout."""
    packaged = resources.files("edgeops").joinpath("_data", "ci", "github", name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (_REPO_WORKFLOWS / name).read_text(encoding="utf-8")


# writing


def _companions(request: Request, root: Path) -> dict[Path, str]:
    """Files written beside edgeops.yaml: the schema (for the modeline) and the workflows."""
    from edgeops.config.schema import load_schema

    files = {root / SCHEMA_FILE: json.dumps(load_schema(), indent=2) + "\n"}
    if request.ci == "github":
        for name, text in workflows(request.backend).items():
            files[root / ".github" / "workflows" / name] = text
    return files


def _refuse_overwrite(request: Request, config: Path, files: dict[Path, str]) -> None:
    """Before anything is read or written: edgeops.yaml, and workflows whose text differs, are
    only replaced with --force. An existing schema file is kept (it is derived)."""
    if request.force:
        return
    taken = [config] if config.exists() else []
    taken += [p for p in files if p.name != SCHEMA_FILE and p.exists() and _read(p) != files[p]]
    if taken:
        names = ", ".join(_shown(p) for p in taken)
        raise EdgeopsError(
            f"{names} already exist{'s' if len(taken) == 1 else ''}; edgeops init never "
            "overwrites a file: edit it, or run init again with --force to replace it "
            "(or -f OTHER.yaml to write another config)"
        )


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _write_all(
    files: dict[Path, str], root: Path, check: Path
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Stage every file beside its destination, check the staged ``check`` config with the real
    loader, then move them all into place (renames, the last step); when anything fails before
    them, no file or folder is left behind."""
    kept = [p for p in files if (p.name == SCHEMA_FILE and p.exists()) or _read(p) == files[p]]
    todo = {p: text for p, text in files.items() if p not in kept}
    made: list[Path] = []
    staged: dict[Path, Path] = {}
    moved = False
    try:
        for path, text in todo.items():
            made += _mkdirs(path.parent)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            staged[path] = tmp
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        if check in staged:
            _check_config(staged[check])
        for path, tmp in staged.items():
            os.replace(tmp, path)
        moved = True
    except OSError as e:
        raise EdgeopsError(f"cannot write {e.filename or root}: {e.strerror or e}") from e
    finally:
        if not moved:
            for tmp in staged.values():
                tmp.unlink(missing_ok=True)
            for folder in reversed(made):
                _rmdir(folder)
    return tuple(_shown(p) for p in todo), tuple(_shown(p) for p in kept)


def _mkdirs(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the ones created, outermost first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        f.mkdir()
    return list(reversed(missing))


def _rmdir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def _check_config(path: Path) -> None:
    """The written config must load: a failure here is a bug in init, not the user's."""
    from edgeops.config.loader import load_config
    from edgeops.errors import ConfigError

    try:
        load_config(path, env={})
    except ConfigError as e:
        raise RuntimeError(f"edgeops init rendered an invalid config (a bug):\n{e}") from e


# the report


def summary(result: Result) -> str:
    """What init found and wrote, and the command to run next."""
    lines: list[str] = []
    if result.counts:
        total = sum(sum(s.values()) for s in result.counts.values())
        where = result.request.source
        lines.append(f"Found {total} images in {len(result.counts)} labels in {where}:")
        width = max(len("label"), *(len(label) for label in result.counts))
        lines.append(f"  {'label':<{width}}  images  train  validation  test")
        for label, s in result.counts.items():
            lines.append(
                f"  {label:<{width}}  {sum(s.values()):>6}  {s['train']:>5}  "
                f"{s['validation']:>10}  {s['test']:>4}"
            )
    if result.warnings:
        lines.append("Warnings:")
        lines += [f"  {w}" for w in result.warnings]
    for path in result.written:
        lines.append(f"Wrote {path}" + _what(path, result))
    for path in result.kept:
        lines.append(f"Kept {path} (already there)")
    lines.append("")
    lines += [f"Next: {step}" for step in _next_steps(result)]
    return "\n".join(lines) + "\n"


def _what(path: str, result: Result) -> str:
    if path.endswith(".gitignore"):
        return f" (ignores {STATE_DIR}/)"
    if Path(path) == Path(_shown(result.request.config.absolute())):
        hours = result.budget.node_hours
        return (
            f" (dataset, model and bundle target '{result.name}'; budget "
            f"{hours:g} node hour{'s' if hours != 1 else ''})"
        )
    return ""


def _next_steps(result: Result) -> list[str]:
    request = result.request
    steps = []
    if request.source is None:
        steps.append(
            f"put your images in {result.source}/, one folder per label with at least 10 "
            "images each (or edit source in edgeops.yaml)"
        )
    if request.backend == "google":
        shown = _shown(request.config.absolute())
        steps.append(f"fill in backend.google.project and bucket in {shown}")
    if request.ci == "github" and request.backend == "local":
        steps.append(f"fill in {STATE_ENV} in .github/workflows/edgeops-*.yml")
    f = "" if request.config == Path("edgeops.yaml") else f" -f {request.config}"
    steps.append(f"edgeops plan{f}  (then `edgeops apply{f}` trains, evaluates and publishes)")
    return steps
