"""`edgeops init` end to end on small real images: from a zip, a folder and a CSV, then the real
`edgeops validate` and `edgeops plan` in a subprocess; refusing to overwrite; a rejected source
(the plan's own message, nothing written); the GitHub workflows; the google backend block."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from trained_example import edgeops, ok

from edgeops import init
from edgeops.backends import local_training_estimate
from edgeops.config.loader import load_config
from edgeops.errors import EdgeopsError
from edgeops.progress import NullReporter

MakeImages = Callable[[Path, dict[str, int]], list[Path]]  # the `make_images` fixture
EXAMPLE_WORKFLOWS = Path(__file__).resolve().parents[1] / "examples" / "ci" / "github"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    return root


@pytest.fixture
def pets(repo: Path, make_images: MakeImages) -> Path:
    """``repo`` with ``data/pets/{cat,dog}/``, 10 images each."""
    make_images(repo / "data" / "pets", {"cat": 10, "dog": 10})
    return repo


def zip_tree(folder: Path, zip_path: Path) -> Path:
    """``zip_path`` holding ``folder``'s label folders (``LABEL/NNN.png``)."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w") as zf:
        for path in sorted(folder.rglob("*.png")):
            zf.write(path, path.relative_to(folder).as_posix())
    return zip_path


def planned(repo: Path) -> str:
    """`edgeops validate` and `edgeops plan` succeed in ``repo``; the plan's text."""
    assert "valid" in ok(edgeops(repo, "validate"))
    return ok(edgeops(repo, "plan"))


def test_init_from_a_zip_then_plan(repo: Path, make_images: MakeImages) -> None:
    make_images(repo / "photos", {"cat": 12, "dog": 11})
    zip_tree(repo / "photos", repo / "data" / "pets.zip")
    out = ok(edgeops(repo, "init", "--from", "data/pets.zip"))

    assert "Found 23 images in 2 labels in data/pets.zip" in out
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("  cat ")] == [
        ["cat", "12"]
    ]
    assert "label 'dog' has 11 images; AutoML recommends at least 100" in out
    assert "Next: edgeops plan" in out
    text = (repo / "edgeops.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=./edgeops.schema.json\n")
    assert (repo / "edgeops.schema.json").is_file()
    assert "zip: data/pets.zip" in text
    assert "estimate for 23 images on this machine" in text
    assert (repo / ".gitignore").read_text().splitlines()[-1] == ".edgeops/"

    config = load_config(repo / "edgeops.yaml")
    (model,) = config.models
    assert (model.name, model.dataset, model.optimize_for) == ("pets", "pets", "latency")
    estimate = local_training_estimate(23, "latency")
    assert estimate * init.HEADROOM <= model.budget.node_hours * 3600
    assert model.budget.node_hours in init.NODE_HOURS
    assert model.threshold.max_f1 and model.gate.min_precision is not None
    ((kind, _),) = config.publish[0].targets
    assert kind == "bundle"

    plan = planned(repo)
    assert "+ dataset.pets (create)" in plan
    assert "new dataset (23 images, 2 labels)" in plan
    assert "model.pets (train)" in plan
    assert "publish.pets.bundle (create)" in plan


def test_init_from_a_folder_then_plan(repo: Path, make_images: MakeImages) -> None:
    make_images(repo / "data" / "My Photos", {"cat": 10, "dog": 10})
    out = ok(edgeops(repo, "init", "--from", "data/My Photos/"))
    assert "Found 20 images in 2 labels" in out
    config = load_config(repo / "edgeops.yaml")
    (dataset,) = config.datasets
    assert dataset.name == "my-photos"  # derived from the folder's name, made a valid name
    assert (dataset.source.kind, dataset.source.path) == ("folder", repo / "data" / "My Photos")
    assert "+ dataset.my-photos (create)" in planned(repo)


def test_init_from_a_csv_then_plan(repo: Path, make_images: MakeImages) -> None:
    images = make_images(repo / "data" / "images", {"cat": 10, "dog": 12})
    rows = [f"images/{p.parent.name}/{p.name},{p.parent.name}" for p in images]
    (repo / "data" / "index.csv").write_text("\n".join(rows) + "\n")
    ok(edgeops(repo, "init", "--from", "data/index.csv", "--name", "pets"))
    (dataset,) = load_config(repo / "edgeops.yaml").datasets
    assert (dataset.name, dataset.source.kind) == ("pets", "csv")
    assert "new dataset (22 images, 2 labels)" in planned(repo)


def test_an_existing_config_is_never_overwritten_without_force(repo: Path, pets: Path) -> None:
    (repo / "edgeops.yaml").write_text("# mine\nversion: 1\n")
    result = edgeops(repo, "init", "--from", "data/pets")
    assert result.returncode == 1
    assert "edgeops.yaml already exists" in result.stderr and "--force" in result.stderr
    assert "Traceback" not in result.stderr
    assert (repo / "edgeops.yaml").read_text() == "# mine\nversion: 1\n"
    assert sorted(p.name for p in repo.iterdir()) == ["data", "edgeops.yaml"]  # nothing else

    ok(edgeops(repo, "init", "--from", "data/pets", "--force"))
    assert "datasets:" in (repo / "edgeops.yaml").read_text()
    ok(edgeops(repo, "init", "--from", "data/pets", "--force"))  # again: .gitignore unchanged
    assert (repo / ".gitignore").read_text().count(".edgeops/") == 1


def test_a_zip_with_a_bad_label_folder_is_rejected_as_plan_rejects_it(
    repo: Path,
    make_images: MakeImages,
) -> None:
    make_images(repo / "tree", {"cat": 10, "bad label!": 10})
    zip_tree(repo / "tree", repo / "data" / "photos.zip")
    before = sorted(p.name for p in repo.iterdir())
    result = edgeops(repo, "init", "--from", "data/photos.zip")
    assert result.returncode == 1
    assert "data/photos.zip:bad label!/" in result.stderr
    assert "labels are 1-32 ASCII letters, digits or underscores" in result.stderr
    assert "rename the folder (e.g. 'bad_label')" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in repo.iterdir()) == before  # no config, cache or .gitignore

    (repo / "edgeops.yaml").write_text(
        "version: 1\ndatasets:\n  photos:\n    source:\n      zip: data/photos.zip\n"
    )
    plan = edgeops(repo, "plan")
    assert plan.returncode == 1
    assert result.stderr == plan.stderr  # the very message plan gives


def test_ci_github_writes_both_workflows_with_the_state_folder_to_fill_in(
    repo: Path, pets: Path
) -> None:
    out = ok(edgeops(repo, "init", "--from", "data/pets", "--ci", "github"))
    assert "fill in EDGEOPS_STATE" in out
    for template, name in (("plan.yml", "edgeops-plan.yml"), ("apply.yml", "edgeops-apply.yml")):
        text = (repo / ".github" / "workflows" / name).read_text()
        assert "FILL IN" in text
        written = yaml.safe_load(text)
        assert written.pop("env") == {"EDGEOPS_STATE": "/FILL-IN/edgeops-state"}
        assert written == yaml.safe_load((EXAMPLE_WORKFLOWS / template).read_text())

    state = repo.parent / "runner-state"
    config = load_config(repo / "edgeops.yaml", env={"EDGEOPS_STATE": str(state)})
    assert config.backend.local is not None and config.backend.local.path == state
    default = load_config(repo / "edgeops.yaml", env={}).backend.local
    assert default is not None and default.path == repo / ".edgeops"
    assert "+ dataset.pets (create)" in planned(repo)

    again = edgeops(repo, "init", "--from", "data/pets", "--ci", "github", "-f", "other.yaml")
    assert again.returncode == 0, again.stderr  # identical workflows are no conflict
    (repo / ".github" / "workflows" / "edgeops-plan.yml").write_text("name: mine\n")
    refused = edgeops(repo, "init", "--from", "data/pets", "--ci", "github", "-f", "third.yaml")
    assert refused.returncode == 1 and "edgeops-plan.yml already exists" in refused.stderr
    assert not (repo / "third.yaml").exists()


def test_google_backend_has_marked_placeholders_and_validates(repo: Path, pets: Path) -> None:
    out = ok(edgeops(repo, "init", "--from", "data/pets", "--backend", "google"))
    assert "fill in backend.google.project and bucket" in out
    text = (repo / "edgeops.yaml").read_text()
    assert "FILL IN" in text
    assert "valid" in ok(edgeops(repo, "validate"))
    config = load_config(repo / "edgeops.yaml", env={"GOOGLE_CLOUD_PROJECT": "acme-vision"})
    assert config.backend.google is not None and config.backend.google.project == "acme-vision"
    assert config.models[0].budget.node_hours == init.GOOGLE_NODE_HOURS


def test_without_a_source_a_template_validates(repo: Path) -> None:
    out = ok(edgeops(repo, "init"))
    assert "put your images in data/photos/" in out
    (dataset,) = load_config(repo / "edgeops.yaml").datasets
    assert dataset.source.path == repo / "data" / "photos"


def test_names_are_derived_or_checked() -> None:
    assert init.dataset_name(Path("data/My Photos 2024.zip"), None) == "my-photos-2024"
    assert init.dataset_name(Path("2024.csv"), None) == init.DEFAULT_NAME
    assert init.dataset_name(Path("Été_Fleurs.zip"), None) == "ete_fleurs"
    assert init.dataset_name(None, "flowers") == "flowers"
    with pytest.raises(EdgeopsError, match=r"--name 'My Flowers': a name is lowercase.*my-flowers"):
        init.dataset_name(None, "My Flowers")


def test_the_budget_is_the_plans_estimate_with_headroom() -> None:
    small = init.size_budget(212, "local")
    assert small.node_hours == 0.05  # what examples/objects uses for its 212 photos
    big = init.size_budget(50_000, "local")
    # the plan's estimate: from this machine's earlier runs (this test session's), if any
    assert big.node_hours * 3600 >= 2 * local_training_estimate(50_000, "latency")
    assert any("50000 images" in line for line in big.comment)
    assert init.size_budget(10**9, "local").node_hours == 100  # the schema's maximum


def test_gitignore_lines_are_added_once() -> None:
    assert init.gitignore_text(None) == (
        "# edgeops: live state and this machine's cache\n.edgeops/\n"
    )
    assert init.gitignore_text("node_modules") == (
        "node_modules\n# edgeops: live state and this machine's cache\n.edgeops/\n"
    )
    assert init.gitignore_text("build/\n/.edgeops\n") is None


def test_all_or_nothing_when_a_step_fails_before_the_files_move(
    repo: Path, pets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    def broken(path: Path) -> None:
        raise RuntimeError("checking the staged config failed")

    monkeypatch.setattr(init, "_check_config", broken)
    request = init.Request(config=repo / "edgeops.yaml", source=repo / "data" / "pets", ci="github")
    with pytest.raises(RuntimeError):
        init.scaffold(request, NullReporter())
    assert sorted(p.name for p in repo.iterdir()) == ["data"]  # no file, folder, temp or cache
