"""The import graph keeps its layers (pyproject.toml, [tool.importlinter]): a broken contract fails with
the forbidden arrows listed (importer -> imported, with line numbers), module-level and function-level
imports alike."""

import subprocess
import sys
from pathlib import Path

from celery import current_app

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(contract_id: str) -> subprocess.CompletedProcess:
    command = (
        [str(LINT_IMPORTS)]
        if LINT_IMPORTS.exists()
        else [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]
    )
    # --no-cache: no .import_linter_cache directory in the tree; the graph of ~200 modules builds in ~1 s.
    return subprocess.run(
        [*command, "--no-cache", "--contract", contract_id], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def broken_arrows(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    return output[output.find("Broken contracts") :] if "Broken contracts" in output else output


def test_apps_import_only_the_layers_below_them():
    """config > risk | notifications > trading > exchanges > jobs > core."""
    result = lint_imports("apps")
    assert result.returncode == 0, broken_arrows(result)


def test_inside_trading_entry_points_services_selectors_models_and_pure_modules_are_layered():
    """Views, API, tasks > forms, job kinds > serializers > services > selectors > models > pure maths."""
    result = lint_imports("trading")
    assert result.returncode == 0, broken_arrows(result)


def test_no_app_has_an_import_cycle_between_its_modules_or_sub_packages():
    """Inside core, jobs, exchanges, trading, risk, notifications and config, at every depth: a sub-package
    (e.g. exchanges.api) counts as one node, so its views may import the job kinds only because the job kinds
    take their result shapes from job_results, not from the API's serializers."""
    result = lint_imports("acyclic")
    assert result.returncode == 0, broken_arrows(result)


def test_every_task_a_dispatch_module_sends_is_registered():
    """Dispatch modules look tasks up by name (so services never import tasks): a misspelt name would only
    fail when sent, logged and swallowed by the dispatch's never-raise."""
    from exchanges import dispatch as exchanges_dispatch
    from jobs import dispatch as jobs_dispatch
    from trading.services import dispatch as trading_dispatch

    names = {
        value
        for module in (trading_dispatch, exchanges_dispatch, jobs_dispatch)
        for value in vars(module).values()
        if isinstance(value, str) and value.endswith("_task")
    }
    assert len(names) == 9  # 8, and trading.tasks.sync_funding_symbol_task (issue 18, funding)
    assert names <= set(current_app.tasks), names - set(current_app.tasks)
