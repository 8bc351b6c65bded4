"""objective=function and objective=command: the user's own code, under every executor.

The function is a module written to a temporary folder (as a user's would be, outside the
repository); the commands are small Python scripts run as real programs. docs/your-objective.md's
commands run at the end, on the tutorial's own script (examples/train.py).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench.driver import Driver
from bench.errors import UserError
from bench.seeding import eval_seed
from objectives.command import CommandObjective, parse_value
from objectives.function import FunctionObjective
from tests.conftest import ROOT, final_results, read_journal, run_cli, slurm_available

SPACE = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "n": {"type": "int", "low": 1, "high": 5}}
SPACE_OVERRIDES = (
    "+objective.space.x={type: float, low: 0.0, high: 1.0}",
    "+objective.space.n={type: int, low: 1, high: 5}",
)
PYTHON = sys.executable

#: A user's module: one function that takes a seed, one that does not, one with metrics.
USER_MODULE = """
def bowl(x, n, seed):
    return (x - 0.3) ** 2 + n + seed * 0.0


def no_seed(x, n):
    return {"value": (x - 0.3) ** 2, "n_twice": 2 * n}


def anything(**params):
    return {"value": params["x"], "keys": sorted(params)}


def no_value(x, n):
    return {"loss": x}
"""

#: A command that reports its arguments, its environment and its seed, and warns on stderr.
ECHO = """
import json, os, sys
params = json.loads(os.environ["BOBENCH_PARAMS"])
print("starting", flush=True)
print("a warning", file=sys.stderr)
print(json.dumps({
    "value": (params["x"] - 0.3) ** 2,
    "argv": sys.argv[1:],
    "env_params": params,
    "env_seed": int(os.environ["BOBENCH_SEED"]),
    "eval_dir": os.environ.get("BOBENCH_EVAL_DIR"),
    "cwd": os.getcwd(),
}))
"""


@pytest.fixture
def user_code(tmp_path: Path) -> Path:
    """A folder outside the repository with a user's module (a unique name per test) and scripts."""
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "usermod.py").write_text(USER_MODULE)
    (folder / "echo.py").write_text(ECHO)
    return folder


def fresh_module(folder: Path, tag: str) -> str:
    """A copy of the user's module under a name no earlier test imported (sys.modules caches them)."""
    name = f"usermod_{tag}_{time.monotonic_ns()}"
    shutil.copy(folder / "usermod.py", folder / f"{name}.py")
    return name


def run(compose, run_dir: Path, *overrides: str) -> list[dict]:
    """Runs the driver on a composed config; returns the final result records."""
    cfg = compose("strategy=random", "+debug=fast", *overrides)
    Driver(cfg, run_dir).run()
    return final_results(read_journal(run_dir))


# -- the function ----------------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_function_from_a_folder_outside_the_repository(compose, tmp_path, user_code, executor):
    module = fresh_module(user_code, executor)
    run_dir = tmp_path / "run"
    results = run(
        compose,
        run_dir,
        "objective=function",
        f"objective.target={module}:no_seed",
        f"objective.path=[{user_code}]",
        *SPACE_OVERRIDES,
        f"executor={executor}",
        "workers=2",
        "budget.evaluations=4",
    )
    assert len(results) == 4 and {r["status"] for r in results} == {"ok"}, results
    submits = {r["eval_id"]: r for r in read_journal(run_dir) if r["event"] == "submit"}
    for r in results:
        params = submits[r["eval_id"]]["params"]
        assert r["value"] == pytest.approx((params["x"] - 0.3) ** 2)
        assert r["metrics"] == {"n_twice": 2 * params["n"]}


def test_the_seed_is_passed_only_to_a_function_that_takes_it(user_code, monkeypatch):
    monkeypatch.chdir(user_code)
    module = fresh_module(user_code, "seed")
    params = {"x": 0.5, "n": 2}
    with_seed = FunctionObjective(SPACE, target=f"{module}:bowl")
    with_seed.validate()
    assert with_seed(params, 11) == pytest.approx(0.04 + 2)
    without = FunctionObjective(SPACE, target=f"{module}:no_seed")
    without.validate()
    out = without(params, 11)
    assert out.value == pytest.approx(0.04) and out.metrics == {"n_twice": 4}
    kwargs = FunctionObjective(SPACE, target=f"{module}.anything")  # dotted form, **kwargs gets seed
    kwargs.validate()
    assert kwargs(params, 11).metrics["keys"] == ["n", "seed", "x"]
    missing = FunctionObjective(SPACE, target=f"{module}:no_value")
    with pytest.raises(ValueError, match="without 'value'"):
        missing(params, 0)


def test_a_function_objective_pickles_without_its_function(user_code, monkeypatch):
    monkeypatch.chdir(user_code)
    module = fresh_module(user_code, "pickle")
    objective = FunctionObjective(SPACE, target=f"{module}:bowl", optimum=1.0)
    objective.validate()  # imports the function in this process
    copy = pickle.loads(pickle.dumps(objective))
    assert copy._fn is None and copy.path == objective.path and copy.name == f"{module}:bowl"
    copy.setup()
    assert copy({"x": 0.3, "n": 1}, 0) == pytest.approx(1.0) and copy.optimum == 1.0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nosuchmodule:fn", r"objective.target: no module named 'nosuchmodule': run bobench from the folder"),
        ("nosuchpkg.mod:fn", r"objective.target: no module named 'nosuchpkg'"),
        ("json", r"objective.target: expected package.module:function, got 'json'"),
        ("MODULE:nothing", r"objective.target: module 'usermod_bad_\d+' has no 'nothing'"),
        ("MODULE:NOT_CALLABLE", r"objective.target: usermod_bad_\d+:NOT_CALLABLE is a str, not a function"),
        ("MODULE:one_param", r"cannot take objective.space's parameters \(x, n\)"),
    ],
)
def test_a_bad_target_is_one_line_before_any_evaluation(user_code, monkeypatch, target, message):
    monkeypatch.chdir(user_code)
    (user_code / "usermod.py").write_text(USER_MODULE + "\nNOT_CALLABLE = 'x'\ndef one_param(x):\n    return x\n")
    module = fresh_module(user_code, "bad")
    with pytest.raises(UserError, match=message) as err:
        FunctionObjective(SPACE, target=target.replace("MODULE", module)).validate()
    assert "\n" not in str(err.value)


def test_the_cli_says_how_to_make_a_module_importable(tmp_path):
    proc = run_cli("objective=function", "objective.target=myobj:fn", *SPACE_OVERRIDES, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        "bobench: error: objective.target: no module named 'myobj': run bobench from the folder that holds it, "
        "or add that folder to PYTHONPATH or objective.path"
    )
    assert not (tmp_path / "outputs").exists()  # nothing started
    (tmp_path / "myobj.py").write_text("def fn(x, n):\n    return x * n\n")
    proc = run_cli(
        "objective=function",
        "objective.target=myobj:fn",
        *SPACE_OVERRIDES,
        "strategy=random",
        "budget.evaluations=2",
        "carbon=fixed",
        "+debug=fast",
        "hydra.run.dir=run",
        cwd=tmp_path,
        check=True,
    )
    assert "evaluations: 2 (0 failed)" in proc.stdout


def test_without_a_space_or_a_target_the_error_says_what_to_give(tmp_path):
    proc = run_cli("objective=function", "objective.target=json:dumps", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("bobench: error: objective.space: give the parameters")
    assert "+objective.space.lr=" in proc.stderr and proc.stderr.count("\n") == 1
    proc = run_cli("objective=function", *SPACE_OVERRIDES, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("bobench: error: objective.target: name the function")
    proc = run_cli("objective=command", *SPACE_OVERRIDES, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("bobench: error: objective.command: give the command")


def test_a_class_in_the_users_folder_builds_and_a_missing_one_says_how(tmp_path):
    (tmp_path / "myclass.py").write_text("from objectives.toy import Quadratic as Mine\n")
    common = ("objective=quadratic", "strategy=random", "budget.evaluations=1", "carbon=fixed", "+debug=fast")
    proc = run_cli(*common, "objective._target_=myclass.Mine", "executor=local", "hydra.run.dir=run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli(*common, "objective._target_=notthere.Mine", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith(
        "No module named 'notthere': run bobench from the folder that holds it, or add that folder to PYTHONPATH"
    )


# -- the command -----------------------------------------------------------------------------------
def echo_command(extra: str = "") -> str:
    return f'objective.command="{PYTHON} echo.py --x {{x}} --n={{n}} --seed {{seed}}{extra}"'


@pytest.mark.parametrize("executor", ["inline", "local"])
def test_a_command_gets_its_parameters_as_arguments_and_as_json(compose, tmp_path, user_code, executor):
    run_dir = tmp_path / "run"
    results = run(
        compose,
        run_dir,
        "objective=command",
        echo_command(),
        f"objective.cwd={user_code}",
        *SPACE_OVERRIDES,
        f"executor={executor}",
        "workers=2",
        "budget.evaluations=3",
    )
    assert len(results) == 3 and {r["status"] for r in results} == {"ok"}, results
    submits = {r["eval_id"]: r for r in read_journal(run_dir) if r["event"] == "submit"}
    for r in results:
        m, params = r["metrics"], submits[r["eval_id"]]["params"]
        assert m["env_params"] == params and m["env_seed"] == eval_seed(0, r["eval_id"])
        assert m["argv"] == ["--x", str(params["x"]), f"--n={params['n']}", "--seed", str(m["env_seed"])]
        assert r["value"] == pytest.approx((params["x"] - 0.3) ** 2)
        assert m["cwd"] == str(user_code)
        folder = run_dir.absolute() / "evals" / str(r["eval_id"])
        assert m["eval_dir"] == str(folder)
        assert (folder / "stdout.txt").read_text().startswith("starting\n")
        assert (folder / "stderr.txt").read_text() == "a warning\n"


def test_a_value_with_spaces_stays_one_argument(user_code):
    space = {"opt": {"type": "categorical", "choices": ["plain", "with two spaces"]}, **SPACE}
    command = f"{PYTHON} echo.py --opt {{opt}} '--label=run {{n}}'"
    objective = CommandObjective(space, command=command, cwd=str(user_code))
    out = objective({"opt": "with two spaces", "x": 0.3, "n": 2}, 5)
    assert out.metrics["argv"] == ["--opt", "with two spaces", "--label=run 2"] and out.value == 0.0
    assert out.metrics["eval_dir"] is None  # outside a run nothing is kept


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("python echo.py --lr {lr}", r"unknown placeholder \{lr\} \(known: \{x\}, \{n\}, \{seed\}\)"),
        ("python echo.py {}", r"'\{\}' has a placeholder without a name"),
        ("python echo.py {x", r"'\{x': expected '\}' before end of string \(write \{\{ and \}\} for literal braces\)"),
        ("python 'echo.py", r"cannot split"),
        ("no-such-program-here {x}", r"program 'no-such-program-here' not found on PATH"),
        ("./missing.sh {x}", r"program './missing.sh' not found in "),
        ("", r"give the command to run"),
    ],
)
def test_a_bad_command_is_one_line_when_built(user_code, command, message):
    with pytest.raises(UserError, match=f"objective.command: {message}") as err:
        CommandObjective(SPACE, command=command, cwd=str(user_code))
    assert "\n" not in str(err.value)


def test_the_cli_refuses_an_unknown_placeholder_before_any_work(tmp_path, user_code):
    proc = run_cli("objective=command", echo_command(" {epochs}"), *SPACE_OVERRIDES, cwd=user_code)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "bobench: error: objective.command: unknown placeholder {epochs} (known: {x}, {n}, {seed})"
    )
    assert not (user_code / "outputs").exists()


def test_a_failing_command_is_an_error_with_its_last_stderr_line(compose, tmp_path, user_code):
    (user_code / "fail.py").write_text(
        "import sys\nprint('0.5')\nprint('Traceback...', file=sys.stderr)\n"
        "print('RuntimeError: CUDA out of memory', file=sys.stderr)\nsys.exit(3)\n"
    )
    results = run(
        compose,
        tmp_path / "run",
        "objective=command",
        f'objective.command="{PYTHON} fail.py {{x}}"',
        f"objective.cwd={user_code}",
        *SPACE_OVERRIDES,
        "budget.evaluations=2",
    )
    assert [r["status"] for r in results] == ["error", "error"]
    assert results[0]["message"].startswith("RuntimeError: command exited with 3: RuntimeError: CUDA out of memory")
    assert (tmp_path / "run" / "evals" / "0" / "stderr.txt").read_text().endswith("CUDA out of memory\n")


HANG = (
    "import os, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
    "open('pids', 'w').write(f'{os.getpid()} {child.pid}')\n"
    "print('started', flush=True)\n"
    "time.sleep(300)\n"
)


def assert_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    for pid in pids:
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"process {pid} of the command outlived the timeout"
            time.sleep(0.1)


@pytest.mark.parametrize(
    ("limit", "status", "message"),
    [
        ("objective.timeout_s=1.5", "error", "command ran past objective.timeout_s=1.5 s and was killed"),
        ("executor.timeout_s=1.5", "timeout", None),  # the worker is killed, and the command with it
    ],
)
def test_a_command_past_its_timeout_is_killed_with_its_children(compose, tmp_path, user_code, limit, status, message):
    (user_code / "hang.py").write_text(HANG)
    t0 = time.monotonic()
    results = run(
        compose,
        tmp_path / "run",
        "objective=command",
        f'objective.command="{PYTHON} hang.py {{x}}"',
        f"objective.cwd={user_code}",
        limit,
        *SPACE_OVERRIDES,
        "executor=local",
        "budget.evaluations=1",
        "retries=0",
    )
    assert time.monotonic() - t0 < 60
    assert results[0]["status"] == status, results
    assert message is None or message in results[0]["message"]
    assert_gone([int(pid) for pid in (user_code / "pids").read_text().split()])
    assert (tmp_path / "run" / "evals" / "0" / "stdout.txt").read_text() == "started\n"


def test_the_value_is_the_last_json_line_with_value_or_a_bare_number():
    out = parse_value('{"value": 1.0}\nepoch 3\n{"value": 0.25, "acc": 0.9}\n{"note": "no value"}\ndone\n')
    assert out.value == 0.25 and out.metrics == {"acc": 0.9}
    assert parse_value("loss\n0.5\n\n").value == 0.5
    assert parse_value('1.5\n{"value": 2}\n').value == 2
    assert str(parse_value("nan\n").value) == "nan"  # marked diverged by the harness
    with pytest.raises(ValueError, match=r"command printed no value \(its last line was 'done'\)"):
        parse_value("epoch 1\ndone\n")
    with pytest.raises(ValueError, match="it printed nothing"):
        parse_value("")


def test_a_command_objective_pickles_and_keeps_its_folders(user_code, monkeypatch):
    monkeypatch.chdir(user_code)
    objective = CommandObjective(SPACE, command=f"{PYTHON} echo.py {{x}}")
    objective.set_run_dir(Path("run"))
    copy = pickle.loads(pickle.dumps(objective))
    assert copy.cwd == str(user_code) and copy.run_dir == str(user_code / "run")
    assert copy.name == f"{Path(PYTHON).name} echo.py"


@pytest.mark.slurm
@pytest.mark.skipif(
    not slurm_available(), reason="no Slurm cluster answers (start one with: bash scripts/slurm/start.sh)"
)
def test_function_and_command_objectives_on_slurm(tmp_path, user_code):
    module = fresh_module(user_code, "slurm")
    common = (
        *SPACE_OVERRIDES,
        "strategy=random",
        "executor=slurm",
        "executor.poll_interval_s=0.3",
        "workers=2",
        "mode=async",
        "budget.evaluations=3",
        "carbon=fixed",
        "+debug=fast",
    )
    run_cli(
        "objective=function",
        f"objective.target={module}:no_seed",
        *common,
        "hydra.run.dir=fn",
        cwd=user_code,
        check=True,
    )
    run_cli("objective=command", echo_command(), *common, "hydra.run.dir=cmd", cwd=user_code, check=True)
    for run_dir in (user_code / "fn", user_code / "cmd"):
        results = final_results(read_journal(run_dir))
        assert len(results) == 3 and {r["status"] for r in results} == {"ok"}, results
        assert all(r["job_id"] for r in results)
    assert (user_code / "cmd" / "evals" / "2" / "stdout.txt").read_text().startswith("starting\n")


# -- the tutorial --------------------------------------------------------------------------------------
TUTORIAL = ROOT / "docs" / "your-objective.md"
#: Appended to every bobench command of the tutorial: a tiny run (later overrides win).
TINY = "budget.evaluations=3 +debug=fast carbon=fixed"


def tutorial_blocks() -> list[str]:
    """The tutorial's ```bash blocks, in order."""
    return re.findall(r"```bash\n(.*?)```", TUTORIAL.read_text(), flags=re.S)


def run_tutorial(tmp_path: Path, blocks: list[str]) -> subprocess.CompletedProcess[str]:
    """Runs ``blocks`` as one bash script in a folder holding a copy of examples/, as a user would."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    script = "\n".join(["set -euo pipefail", f'bobench() {{ "{PYTHON}" -m bench "$@" {TINY}; }}', *blocks])
    env = {
        **os.environ,
        "PATH": f"{Path(PYTHON).parent}{os.pathsep}{os.environ['PATH']}",  # `python` is this one
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def test_the_tutorial_names_commands_that_run_here_and_on_slurm():
    blocks = tutorial_blocks()
    text = "\n".join(blocks)
    assert "objective=function" in text and "objective=command" in text
    assert "executor=local workers=2 mode=async strategy=async_ts" in text
    assert any("executor=slurm" in b for b in blocks)
    assert "[your-objective.md](docs/your-objective.md)" in (ROOT / "README.md").read_text()


@pytest.mark.slow
def test_the_tutorials_commands_run(tmp_path):
    blocks = [b for b in tutorial_blocks() if "executor=slurm" not in b]
    proc = run_tutorial(tmp_path, blocks)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    runs = tmp_path / "examples" / "runs"
    for name in ("function", "command", "async_ts"):
        results = final_results(read_journal(runs / name))
        assert len(results) == 3 and {r["status"] for r in results} == {"ok"}, (name, results)
    assert json.loads((runs / "command" / "evals" / "0" / "stdout.txt").read_text().splitlines()[-1])["value"] > 0


@pytest.mark.slurm
@pytest.mark.skipif(
    not slurm_available(), reason="no Slurm cluster answers (start one with: bash scripts/slurm/start.sh)"
)
def test_the_tutorials_slurm_commands_run(tmp_path):
    blocks = tutorial_blocks()
    setup = [b for b in blocks if b.lstrip().startswith("cd ")][:1]
    proc = run_tutorial(tmp_path, [*setup, *[b for b in blocks if "executor=slurm" in b]])
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    results = final_results(read_journal(tmp_path / "examples" / "runs" / "slurm"))
    assert len(results) == 3 and {r["status"] for r in results} == {"ok"}, results
