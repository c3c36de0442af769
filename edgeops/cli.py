"""Command line: parse, call one function, return an exit code.

Exit codes: 0 ok / no changes, 1 user error, 2 changes present (plan --detailed-exitcode, drift),
3 internal bug (a log is written for the report), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from edgeops import __version__
from edgeops.errors import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USER_ERROR, EdgeopsError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 1 (a user error): argparse's own 2 is edgeops' code
    for "changes present", so a mistyped flag would read as success in CI."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n")


def _add_file(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-f",
        "--file",
        default=None,
        help="the config file (default: ./edgeops.yaml, or the one a saved plan names)",
    )


def _add_allow_destroy(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-destroy",
        action="store_true",
        help="allow unpublishing protected targets and removing every published target",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="edgeops",
        description="On-device image classification models as code: plan, train, evaluate, "
        "publish.",
    )
    parser.add_argument("--version", action="version", version=f"edgeops {__version__}")
    parser.add_argument(
        "-C", dest="chdir", metavar="DIR", help="run as if edgeops was started in DIR"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "init", help="start a repository: write a commented edgeops.yaml for your images"
    )
    _add_file(p)
    p.add_argument(
        "--from",
        dest="source",
        metavar="SOURCE",
        help="a zip or folder with one folder per label, or a CSV index (rows path,label); "
        "scanned once (default: a template for data/photos/)",
    )
    p.add_argument("--backend", choices=["local", "google"], default="local")
    p.add_argument("--name", help="dataset, model and publish name (default: from SOURCE's name)")
    p.add_argument("--multi-label", action="store_true", help="an image may carry several labels")
    p.add_argument(
        "--ci", choices=["github"], help="also write the plan and apply workflows (GitHub Actions)"
    )
    p.add_argument(
        "--force", action="store_true", help="replace an existing edgeops.yaml (and workflows)"
    )

    p = sub.add_parser("validate", help="check edgeops.yaml against the schema and its rules")
    _add_file(p)
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="config files to check instead of -f (pre-commit)"
    )

    sub.add_parser("schema", help="print the JSON Schema of edgeops.yaml")

    p = sub.add_parser("plan", help="show what apply would change")
    _add_file(p)
    p.add_argument("--out", metavar="FILE", help="save the plan for `edgeops apply FILE`")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 2 when there are changes, 0 when none",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="train a candidate for every model the plan retrains (inside its budget) and show "
        "its real evaluation against the served version; apply adopts it without retraining",
    )
    _add_allow_destroy(p)

    p = sub.add_parser("apply", help="make live state match edgeops.yaml")
    _add_file(p)
    p.add_argument("plan_file", nargs="?", metavar="PLAN", help="a plan saved with plan --out")
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    _add_allow_destroy(p)

    p = sub.add_parser("drift", help="list what changed outside edgeops (exit 2 when any)")
    _add_file(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("ci", help="continuous integration helpers")
    ci = p.add_subparsers(dest="ci_command", metavar="CI_COMMAND", required=True)
    p = ci.add_parser(
        "comment", help="post the plan as one pull-request comment, updated on every push"
    )
    _add_file(p)
    p.add_argument(
        "--plan", metavar="FILE", help="a plan saved with plan --out (default: plan now)"
    )
    p.add_argument("--repo", metavar="OWNER/REPO", help="default: $GITHUB_REPOSITORY")
    p.add_argument(
        "--pr", type=int, metavar="N", help="pull request number (default: from $GITHUB_EVENT_PATH)"
    )
    _add_allow_destroy(p)

    p = sub.add_parser("show", help="print live state")
    _add_file(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("eval", help="print a model version's evaluation (the Evaluate tab)")
    _add_file(p)
    p.add_argument("model", metavar="model.NAME", help="the model's address, e.g. model.flowers")
    p.add_argument("--version", type=int, help="a version number (default: the one in the config)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")

    p = sub.add_parser("unlock", help="remove the apply lock (when its holder is gone)")
    _add_file(p)

    p = sub.add_parser(
        "migrate-state",
        help="copy the local backend's state from where it was to where edgeops.yaml now puts it",
    )
    _add_file(p)
    p.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="LOCATION",
        help="where the state is now: a folder (relative to edgeops.yaml), s3://… or gs://…",
    )
    p.add_argument("--endpoint-url", help="the S3-compatible endpoint of an s3:// --from")
    p.add_argument("--force", action="store_true", help="replace state already at the destination")

    p = sub.add_parser("models", help="list registry entries and model versions with metrics")
    _add_file(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("serve", help="serve published models over HTTP (predict, download)")
    _add_file(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    p.add_argument(
        "--token",
        default=os.environ.get("EDGEOPS_SERVE_TOKEN"),
        help="require `Authorization: Bearer TOKEN` (default: $EDGEOPS_SERVE_TOKEN)",
    )
    p.add_argument(
        "--insecure", action="store_true", help="allow a non-loopback --host without a token"
    )
    p.add_argument("--max-body-mb", type=float, default=20.0, help="request size limit (20)")
    p.add_argument("--interpreters", type=int, default=2, help="LiteRT interpreters per model")
    p.add_argument("--no-access-log", action="store_true", help="do not log every request")

    p = sub.add_parser(
        "inspect",
        help="a dataset's health: duplicates, near duplicates across splits, label errors",
    )
    _add_file(p)
    p.add_argument("address", metavar="dataset.NAME", help="the dataset to inspect")
    p.add_argument("--json", action="store_true", help="print the versioned JSON document")

    p = sub.add_parser("review", help="review and label a dataset's images in the browser")
    _add_file(p)
    p.add_argument("address", metavar="dataset.NAME", help="the dataset to review")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    p.add_argument("--no-browser", action="store_true", help="print the URL, open no browser")

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as e:
            from edgeops import ui

            ui.error(f"-C {args.chdir}: {e.strerror}")
            return EXIT_USER_ERROR
    from edgeops import commands

    handler: Callable[[argparse.Namespace], int] = getattr(
        commands, f"cmd_{args.command.replace('-', '_')}"
    )
    return run(handler, args)


def run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """The one boundary that maps exceptions to exit codes."""
    from edgeops import ui

    try:
        return handler(args)
    except EdgeopsError as e:
        ui.error(str(e))
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        ui.error("interrupted. Nothing is half-written; the next `edgeops apply` resumes.")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_USER_ERROR
    except Exception:  # a bug: keep the traceback for the report, not the user's screen
        fd, log = tempfile.mkstemp(prefix="edgeops-crash-", suffix=".log")
        with os.fdopen(fd, "w") as f:
            f.write(f"edgeops {__version__}\nargv: {sys.argv}\n\n")
            traceback.print_exc(file=f)
        ui.error(
            f"edgeops hit an internal error (a bug). Details are in {log}; "
            "please attach it to a bug report."
        )
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
