"""``interstack certify``: the command line.

Exit codes: 0 when every required capability passed, 1 when some failed, 2 for usage and setup
errors (each told in one line on stderr, never a traceback), 130 when interrupted.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from interstack.certify import CertifyError
from interstack.certify.guideline import TARGETS, Status, bundled_guidelines, load_guideline

EXIT_FAILED = 1
EXIT_SETUP = 2

certify_app = typer.Typer(
    help="OpenStack Powered interoperability testing of any cloud (Tempest + interop guidelines).",
    pretty_exceptions_enable=False,
    add_completion=False,
)
errors = Console(stderr=True, soft_wrap=True, highlight=False)

GuidelineOption = Annotated[
    str,
    typer.Option(
        "--guideline",
        "-g",
        help=f"guideline JSON file, URL, or bundled id ({', '.join(bundled_guidelines())})",
    ),
]
TargetOption = Annotated[str, typer.Option("--target", "-t", help=f"program: {', '.join(TARGETS)}")]
CapabilityOption = Annotated[
    list[str] | None,
    typer.Option("--capability", help="only capabilities matching this pattern (repeatable)"),
]


def fail(message: str) -> typer.Exit:
    """One line on stderr and the setup-error exit code."""
    errors.print(f"[bold red]interstack certify: error:[/] {message}")
    return typer.Exit(EXIT_SETUP)


@certify_app.callback(invoke_without_command=True)
def certify(
    ctx: typer.Context,
    cloud: Annotated[
        list[str] | None, typer.Option("--cloud", help="cloud in clouds.yaml (repeatable)")
    ] = None,
    guideline: GuidelineOption = "2020.06",
    target: TargetOption = "compute",
    out: Annotated[Path, typer.Option("--out", "-o", help="results directory")] = Path(
        "certify-results"
    ),
    capability: CapabilityOption = None,
    test_regex: Annotated[
        str | None, typer.Option("--test-regex", help="only tests whose name matches")
    ] = None,
    rerun_failed: Annotated[
        bool, typer.Option("--rerun-failed", help="run again only what did not pass last time")
    ] = False,
    admin_cloud: Annotated[
        str | None,
        typer.Option("--admin-cloud", help="admin cloud: Tempest creates its own users"),
    ] = None,
    image: Annotated[str | None, typer.Option(help="image name or id to boot")] = None,
    image_alt: Annotated[str | None, typer.Option(help="second image (rebuild)")] = None,
    flavor: Annotated[str | None, typer.Option(help="flavor name or id")] = None,
    flavor_alt: Annotated[str | None, typer.Option(help="second, larger flavor")] = None,
    network: Annotated[str | None, typer.Option(help="tenant network name or id")] = None,
    external_network: Annotated[
        str | None, typer.Option(help="external network for floating IPs")
    ] = None,
    ssh_user: Annotated[str | None, typer.Option(help="SSH user of the image")] = None,
    ssh_validation: Annotated[
        bool | None,
        typer.Option(
            "--ssh-validation/--no-ssh-validation",
            help="log into guests over SSH (default: when the cloud has an external network)",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(help="Tempest workers (1 = serial, as RefStack ran)")
    ] = 1,
) -> None:
    """Run the required tests of a guideline against each --cloud and grade them."""
    if ctx.invoked_subcommand is not None:
        return
    # libraries (keystoneauth, openstacksdk) warn through logging; our errors are one line
    logging.getLogger().addHandler(logging.NullHandler())
    if not cloud:
        raise fail("name at least one cloud: --cloud NAME (from clouds.yaml)")
    from interstack.certify.session import Options, certify_clouds

    options = Options(
        clouds=tuple(cloud),
        guideline=guideline,
        target=target,
        out=out,
        capabilities=tuple(capability or ()),
        test_regex=test_regex,
        rerun_failed=rerun_failed,
        admin_cloud=admin_cloud,
        image=image,
        image_alt=image_alt,
        flavor=flavor,
        flavor_alt=flavor_alt,
        network=network,
        external_network=external_network,
        ssh_user=ssh_user,
        ssh_validation=ssh_validation,
        concurrency=concurrency,
    )
    try:
        code = certify_clouds(options)
    except CertifyError as exc:
        raise fail(exc.message) from None
    raise typer.Exit(code)


@certify_app.command("list-tests")
def list_tests(
    guideline: GuidelineOption = "2020.06",
    target: TargetOption = "compute",
    capability: CapabilityOption = None,
    status: Annotated[
        list[Status] | None, typer.Option("--status", help="capability status (repeatable)")
    ] = None,
    flagged: Annotated[bool, typer.Option(help="include flagged tests")] = False,
    aliases: Annotated[bool, typer.Option(help="one more line per alias")] = False,
) -> None:
    """Print the tests of a target as ``name[id-uuid]`` lines (RefStack's test-list format)."""
    try:
        parsed = load_guideline(guideline)
        lines = parsed.test_list(
            target,
            tuple(status or (Status.REQUIRED,)),
            alias=aliases,
            flag=flagged,
            only=tuple(capability or ()),
        )
    except CertifyError as exc:
        raise fail(exc.message) from None
    if not lines:
        raise fail(f"no tests match in guideline {parsed.id} target {target}")
    typer.echo("\n".join(lines))
