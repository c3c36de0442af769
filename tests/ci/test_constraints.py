"""`.ci/constraints.txt` pins what CI installs: every requirement of the extras the README installs
must be pinned there, at a version its range in pyproject.toml admits (else pip's resolver goes back
to searching, which once ran past CI's 90 minutes)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (ROOT / ".ci" / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        assert version, f"constraints.txt: {line!r} is not an exact pin (name==version)"
        found[canonicalize_name(name)] = Version(version)
    return found


def test_every_requirement_of_the_installed_extras_is_pinned_inside_its_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = [*project["dependencies"], *extras["local"], *extras["google"], *extras["dev"]]
    pinned = pins()
    problems = []
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name not in pinned:
            problems.append(f"{req.name} is not pinned")
        elif not req.specifier.contains(pinned[name], prereleases=True):
            problems.append(f"{req.name}=={pinned[name]} is outside {req.specifier}")
    assert not problems, "regenerate .ci/constraints.txt (its header says how): " + "; ".join(
        problems
    )


def test_torch_is_pinned_to_the_cpu_build_on_disk() -> None:
    assert pins()["torch"] == Version("2.13.0")
