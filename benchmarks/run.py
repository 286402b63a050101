"""Issue 7 benchmark: our build against the floor and against the alternative, side by side, on this machine.

    .venv/bin/python benchmarks/run.py [--runs 5] [--batch-editions 20] [--batch-runs 1] [--only cold,floor,...]
                                       [--project DIR] [--variant LABEL=DIR[@STAGES] ...] [--out FILE] [--keep]

Figures (each the median of --runs runs, with min and max; every "new process" figure is a fresh process):

cold      `python -m pipeline build` in a new process: the default edition through Dagster, all assets, HTML and
          PDF, published into a temporary archive (so nothing is ever "reused") with a temporary DAGSTER_HOME that
          one untimed warm-up build initialises (the steady state of `make report`); wall time and peak RSS.
floor     a new process that only lays out and writes the same build's print HTML with WeasyPrint, with the
          project's URL fetcher and base URL exactly as `pipeline.lib.render.layout_pdf` does: the irreducible work.
chromium  headless Chromium printing the same HTML to PDF (new process, new profile folder each run).
pdf       our PDF stage in a warm process: `make_pdf` (layout, export, one GC collection) of the same HTML
          (after one untimed warm-up). Each run exports the one layout twice, as the build does (PDF/A-3a +
          PDF/UA-1: tagged, the edition's sources embedded; `pdf_archival.write_options`) and plain (untagged,
          nothing embedded), and times the blocking validator (`conformance.check_pdf`) on the former; the sizes
          of both files. Its own section in RESULTS.md holds the cost of the archival PDF against its budget.
edit      `make preview`'s loop in a warm process: a template-only edit through the file watcher until the PDF is
          written (and until the page is served); which steps re-ran.
batch     20 temporary editions (copies of the real one with amounts scaled; generated in a temp folder, never
          committed) built through Dagster by one worker, then by two workers taking every other edition;
          throughput and peak memory per worker.

A worker is one slot of a run queue: it builds its editions one after the other, each in a new
`python -m pipeline build` process, as Dagster's run launcher starts a new process for every queued run (the
in-process executor inside it, as `make report`). Two workers, not Dagster's multiprocess executor: an edition's
steps form a chain, so the multiprocess executor would only add a process start per step (seconds each here) and
never run two of one edition's steps at once; the parallelism is across editions, which is what the instance's run
queue with two concurrent runs gives. Memory per worker is the largest build process's peak RSS, and the sampled
peak of the worker with all its processes (the build and the chart helper), counted as PSS so that pages a
freshly forked process shares with its parent are not counted twice.

--variant LABEL=DIR measures another copy of the project too (e.g. a scratch copy with a proposed fix applied),
in the same run, as an extra column (`@cold,pdf,...` limits it to those figures); --project measures another copy
as the first column. New-process figures are taken round-robin over the columns, so a change in the machine's load
hits every column alike. A figure that fails (e.g. a build error) is reported as failed; the rest still runs.

The generated parts of RESULTS.md sit between the bench markers; text outside them (method, analysis, proposed
fixes) is kept when the file is rewritten. A run of every figure rewrites the main figures; a run of some
(--only) prints them but keeps the main figures of the last full run in the file, and rewrites only the
sections of what it measured (the archival export's, when `pdf` ran). A default run (one column, 5 runs) takes 7-10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
#: The archival export's own section (the cost of PDF/A + PDF/UA), written by every run that measures `pdf`.
PDF_BEGIN, PDF_END = "<!-- bench:pdf-export:begin -->", "<!-- bench:pdf-export:end -->"
DEFAULT_EDITION = "xiaomi-ecosystem-2025h1"
#: The report measured: its folder in a checkout (the base folder WeasyPrint resolves relative URLs against).
REPORT_FOLDER = Path("templates") / "xiaomi-ecosystem"
DEFAULT_FONT_DIR = Path("/usr/share/fonts/opentype/noto")
MIB = 1024 * 1024
PACKAGES = ("dagster", "weasyprint", "pydyf", "vl-convert-python", "altair", "pandas", "pandera", "pypdf", "Jinja2",
            "fonttools", "watchfiles", "psutil")
#: Units whose values are amounts (scaled in the batch editions); shares, ranks and changes stay as they are.
SCALED_UNITS = {"cny": False, "devices": True, "users": True, "vehicles": True}
TARGETS = {"cold": 2.5, "cold_stretch": 2.0, "pdf": 1.0, "edit": 1.3, "batch": 1.7, "memory_mib": 400,
           # the archival PDF's budget: PDF stage and file against the plain untagged export, validator time
           "archival_time": 1.15, "archival_size": 1.30, "check_s": 1.0}
STAGES = ("cold", "floor", "chromium", "pdf", "edit", "batch")

FLOOR_SCRIPT = """
import sys
from pathlib import Path
import weasyprint
from pipeline.lib.fetcher import ProjectURLFetcher
html, templates, fonts, out = sys.argv[1:5]
templates, fonts = Path(templates), Path(fonts)
document = weasyprint.HTML(string=Path(html).read_text(encoding="utf-8"), base_url=str(templates) + "/",
                           url_fetcher=ProjectURLFetcher([templates, fonts])).render()
Path(out).write_bytes(document.write_pdf())
"""


class BenchError(RuntimeError):
    pass


class _LoadSampler(threading.Thread):
    """The 1-minute load average every 10 s while the benchmark runs: how busy the machine was besides us."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []

    def run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            time.sleep(10)


LOAD = _LoadSampler()


# --- measuring processes -------------------------------------------------------------------------------------


@dataclass
class Sample:
    seconds: float
    rss_mib: float  # peak RSS of the largest single process (wait4's ru_maxrss)
    tree_mib: float = 0.0  # peak of the summed RSS of the process and its children (the chart helper), every 50 ms
    extra: dict = field(default_factory=dict)


class _TreeSampler(threading.Thread):
    """Peak summed memory of each started process with its descendants, sampled: a process's own ru_maxrss does not
    include the helper process that draws its charts. PSS, not RSS: a child between fork and exec shares all its
    parent's pages, and RSS would count them twice."""

    def __init__(self, pids: list[int]):
        super().__init__(daemon=True)
        self.pids, self.peaks, self.done = pids, [0] * len(pids), threading.Event()

    def run(self) -> None:
        import psutil

        while not self.done.wait(0.05):
            for i, pid in enumerate(self.pids):
                try:
                    proc = psutil.Process(pid)
                    total = sum(_pss(p) for p in [proc, *proc.children(recursive=True)])
                except psutil.Error:
                    continue
                self.peaks[i] = max(self.peaks[i], total)


def _pss(proc) -> int:
    import psutil

    try:
        return proc.memory_full_info().pss
    except psutil.AccessDenied:
        return proc.memory_info().rss


def run_processes(cmds: list[list[str]], *, cwd: Path, env: dict, log: Path, timeout: float = 1800
                  ) -> tuple[float, list[float], list[float]]:
    """Start the commands together; wall time until the last exits, each one's peak RSS (MiB) and the sampled peak
    of each one with its children (MiB)."""
    procs = []
    with open(log, "ab") as out:
        start = time.perf_counter()
        for cmd in cmds:
            out.write(f"\n$ {' '.join(map(str, cmd))[:300]}\n".encode())
            out.flush()
            procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT))
    sampler = _TreeSampler([p.pid for p in procs])
    sampler.start()
    killer = threading.Timer(timeout, lambda: [p.kill() for p in procs])
    killer.start()
    peaks, failures = [], []
    for proc in procs:
        _, status, usage = os.wait4(proc.pid, 0)  # wait4: this child's own peak RSS, not the max of all children
        proc.returncode = os.waitstatus_to_exitcode(status)
        peaks.append(usage.ru_maxrss / 1024)
        if proc.returncode != 0:
            failures.append(proc.returncode)
    seconds = time.perf_counter() - start
    killer.cancel()
    sampler.done.set()
    sampler.join()
    if failures:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"{cmds[0][:4]}… exited with {failures}; end of {log.name}:\n{tail}")
    return seconds, peaks, [peak / MIB for peak in sampler.peaks]


def run_process(cmd: list[str], *, cwd: Path, env: dict, log: Path, timeout: float = 900) -> Sample:
    seconds, peaks, trees = run_processes([cmd], cwd=cwd, env=env, log=log, timeout=timeout)
    return Sample(seconds, peaks[0], trees[0])


@dataclass
class Stat:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def fmt(self, unit: str = "s", digits: int = 2) -> str:
        if not self.values:
            return "–"
        lo, hi = min(self.values), max(self.values)
        return f"{self.median:.{digits}f} {unit} ({lo:.{digits}f}–{hi:.{digits}f})"


# --- the project copies being measured ---------------------------------------------------------------------


@dataclass
class Tree:
    label: str
    root: Path
    work: Path  # temporary folder for this tree's runs
    results: dict = field(default_factory=dict)

    def env(self, **extra: str | Path) -> dict[str, str]:
        """Environment of a process measuring this tree: its code importable first, its own caches, no REPORT_*."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REPORT_", "DAGSTER_"))}
        env["PYTHONPATH"] = str(self.root)
        env["XDG_CACHE_HOME"] = str(self.work / "xdg-cache")  # a tree's own cache, warmed by its warm-up run
        if os.environ.get("REPORT_FONT_DIR"):
            env["REPORT_FONT_DIR"] = os.environ["REPORT_FONT_DIR"]
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def worker(self, mode: str, *args: str | Path) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "--worker", mode, *map(str, args)]


def font_dir() -> Path:
    return Path(os.environ["REPORT_FONT_DIR"]) if os.environ.get("REPORT_FONT_DIR") else DEFAULT_FONT_DIR


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# --- the figures ---------------------------------------------------------------------------------------------


def cold_once(tree: Tree, round_: int, edition: str) -> Sample:
    """One `python -m pipeline build` in a new process, into a fresh archive (round 0 is the untimed warm-up that
    initialises the tree's Dagster instance and caches)."""
    log = tree.work / "cold.log"
    reports = tree.work / f"cold-reports-{round_}"
    cmd = [sys.executable, "-m", "pipeline", "build", "--edition", edition]
    sample = run_process(cmd, cwd=tree.root, env=tree.env(DAGSTER_HOME=tree.work / "dagster-home",
                                                         REPORT_OUTPUT_DIR=reports), log=log)
    if "published" not in log.read_text(errors="replace").rsplit("$ ", 1)[-1]:
        raise BenchError(f"cold build {round_} did not publish; see {log.name}")
    shutil.rmtree(reports, ignore_errors=True)
    return sample


def cold_steps(tree: Tree) -> None:
    out = tree.work / "steps.json"
    run_process(tree.worker("steps", out), cwd=tree.root, env=tree.env(DAGSTER_HOME=tree.work / "dagster-home"),
                log=tree.work / "cold.log")
    tree.results["steps"] = json.loads(out.read_text())


def make_print_html(tree: Tree, edition: str) -> Path:
    out = tree.work / "print.html"
    run_process(tree.worker("print-html", edition, out), cwd=tree.root, env=tree.env(), log=tree.work / "html.log")
    return out


def floor_once(tree: Tree, html: Path) -> Sample:
    """WeasyPrint alone in a new process, with the project's fetcher and base URL, as layout_pdf calls it."""
    cmd = [sys.executable, "-c", FLOOR_SCRIPT, str(html), str(tree.root / REPORT_FOLDER), str(font_dir()),
           str(tree.work / "floor.pdf")]
    return run_process(cmd, cwd=tree.root, env=tree.env(), log=tree.work / "floor.log")


def chromium_once(tree: Tree, html: Path) -> Sample:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise BenchError("chromium not found (make bench installs it)")
    profile = Path(tempfile.mkdtemp(dir=tree.work, prefix="chromium-profile-"))
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           f"--print-to-pdf={tree.work / 'chromium.pdf'}", html.resolve().as_uri()]
    try:
        return run_process(cmd, cwd=tree.work, env=tree.env(), log=tree.work / "chromium.log", timeout=300)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def new_process_rounds(trees: list[Tree], stages: dict[str, set[str]], runs: int, edition: str,
                       html: dict[str, Path], own_html: dict[str, bool]) -> None:
    """Cold build, floor and Chromium, round-robin over the trees: each round measures every tree once, so a change
    in the machine's load (other people's test suites) hits all columns alike. Round 0 is an untimed warm-up."""
    samples: dict[tuple[str, str], list[Sample]] = {}
    plan = [(tree, stage) for tree in trees for stage in ("cold", "floor", "chromium")
            if stage in stages[tree.label] and (stage == "cold" or own_html[tree.label])]
    for round_ in range(runs + 1):
        for tree, stage in plan:
            if stage in tree.results.get("errors", {}):
                continue
            try:
                if stage == "cold":
                    sample = cold_once(tree, round_, edition)
                elif stage == "floor":
                    sample = floor_once(tree, html[tree.label])
                else:
                    sample = chromium_once(tree, html[tree.label])
            except BenchError as error:
                record_failure(tree, stage, error)
                continue
            say(f"  {tree.label}: {stage} {'warm-up' if not round_ else f'run {round_}'}: {sample.seconds:.2f} s, "
                f"{sample.rss_mib:.0f} MiB")
            if round_:
                samples.setdefault((tree.label, stage), []).append(sample)
    for tree in trees:
        for stage in ("cold", "floor", "chromium"):
            got = samples.get((tree.label, stage))
            if got:
                tree.results[stage] = {"seconds": Stat([s.seconds for s in got]), "rss": Stat([s.rss_mib for s in got]),
                                       "tree": Stat([s.tree_mib for s in got])}
        if "cold" in tree.results:
            attempt(tree, "cold", cold_steps, tree)


def bench_pdf(tree: Tree, runs: int, html: Path, edition: str) -> None:
    out = tree.work / "pdf.json"
    run_process(tree.worker("pdf-stage", html, runs, out, edition), cwd=tree.root, env=tree.env(),
                log=tree.work / "pdf.log")
    data = json.loads(out.read_text())
    keys = [k for k in ("layout", "plain", "write_plain", "archival", "write_archival", "check", "plain_bytes",
                        "archival_bytes") if k in data["runs"][0]]
    pdf = {k: Stat([float(r[k]) for r in data["runs"]]) for k in keys}
    archival = "archival" in pdf
    # the PDF stage as the build runs it: the real (archival) export when this copy has one
    pdf["total"], pdf["write"] = (pdf["archival"], pdf["write_archival"]) if archival else (pdf["plain"],
                                                                                         pdf["write_plain"])
    pdf["pages"] = data["pages"]
    if archival:  # paired per run (one layout, both exports): a load change between runs cancels out
        pdf["stage_ratio"] = Stat([r["archival"] / r["plain"] for r in data["runs"]])
        pdf["write_ratio"] = Stat([r["write_archival"] / r["write_plain"] for r in data["runs"]])
        pdf["check_passed"] = all(r["check_passed"] for r in data["runs"])
        pdf["check_summary"] = data["runs"][-1]["check_summary"]
    tree.results["pdf"] = pdf
    say(f"  {tree.label} in-process PDF stage: {pdf['total'].fmt()}"
        + (f" (plain untagged {pdf['plain'].fmt()}; validator {pdf['check'].fmt()})" if archival else ""))


def bench_edit(tree: Tree, runs: int, edition: str) -> None:
    out = tree.work / "edit.json"
    run_process(tree.worker("edit-loop", edition, runs, out), cwd=tree.root, env=tree.env(),
                log=tree.work / "edit.log")
    data = json.loads(out.read_text())
    tree.results["edit"] = {"seconds": Stat([r["seconds"] for r in data["runs"]]),
                            "page": Stat([r["page_seconds"] for r in data["runs"]]),
                            "ran": sorted({tuple(r["ran"]) for r in data["runs"]}),
                            "reused": sorted({tuple(r["reused"]) for r in data["runs"]}),
                            "first": data["first"],
                            "timings": {k: Stat([r["timings"][k] for r in data["runs"] if k in r["timings"]])
                                        for k in ("html", "pdf")}}
    say(f"  {tree.label} edit loop: {tree.results['edit']['seconds'].fmt()}, ran {tree.results['edit']['ran']}")


def scaled_editions(source: Path, target: Path, count: int) -> list[str]:
    """`count` copies of the edition in `source`, each with its amounts scaled by its own factor."""
    import csv
    import io

    names = []
    text = (source / "metrics.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    value, unit = header.index("value"), header.index("unit")
    for n in range(1, count + 1):
        name = f"bench-{n:02d}"
        folder = target / name
        shutil.copytree(source, folder)
        factor = 1 + 0.03 * n
        scaled = [header]
        for row in rows[1:]:
            row = list(row)
            if row and row[unit] in SCALED_UNITS:
                number = float(row[value]) * factor
                row[value] = str(round(number)) if SCALED_UNITS[row[unit]] else f"{number:.2f}".rstrip("0").rstrip(".")
            scaled.append(row)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(scaled)
        (folder / "metrics.csv").write_text(buffer.getvalue(), encoding="utf-8")
        names.append(name)
    return names


def edition_layout(root: Path, edition: str) -> tuple[Path, Path]:
    """The edition's folder in the tree's sources/, and the folder below a sources root that holds its editions:
    sources/<report id>/<edition>/ and <report id> (a copy from before reports had their own folders of editions:
    sources/<edition>/ and nothing)."""
    sources = root / "sources"
    if (sources / edition / "metrics.csv").is_file():
        return sources / edition, Path()
    found = sorted(p for p in sources.glob(f"*/{edition}") if (p / "metrics.csv").is_file())
    if len(found) != 1:
        raise BenchError(f"edition {edition}: {len(found)} folders of it in {sources} (expected one)")
    return found[0], found[0].parent.relative_to(sources)


def bench_batch(tree: Tree, editions: int, runs: int, edition: str) -> None:
    sources = tree.work / "batch-sources"  # a sources root, as REPORT_SOURCES_DIR takes it
    shutil.rmtree(sources, ignore_errors=True)
    folder, report_dir = edition_layout(tree.root, edition)
    names = scaled_editions(folder, sources / report_dir, editions)
    home = tree.work / "batch-home"
    log = tree.work / "batch.log"
    env = tree.env(DAGSTER_HOME=home, REPORT_SOURCES_DIR=sources)
    # Register the partitions and warm the caches once, so two workers do not race to create the instance.
    run_process(tree.worker("batch", tree.work / "batch-warm.json", names[0]), cwd=tree.root,
                env=env | {"REPORT_OUTPUT_DIR": str(tree.work / "batch-warm")}, log=log)
    run_process(tree.worker("register", *names), cwd=tree.root, env=env, log=log)
    collected = {1: ([], [], [], []), 2: ([], [], [], [])}
    for r in range(runs):
        for workers in (1, 2):  # alternating, so a change in the machine's load hits both alike
            walls, peaks, per_build, with_helpers = collected[workers]
            reports = tree.work / f"batch-reports-{workers}-{r}"
            outs = [tree.work / f"batch-{workers}-{r}-{w}.json" for w in range(workers)]
            cmds = [tree.worker("batch", outs[w], *names[w::workers]) for w in range(workers)]
            wall, _, trees = run_processes(cmds, cwd=tree.root, env=env | {"REPORT_OUTPUT_DIR": str(reports)},
                                             log=log)
            walls.append(wall)
            with_helpers.extend(trees)
            for out in outs:
                result = json.loads(out.read_text())
                per_build.extend(b["seconds"] for b in result["builds"])
                peaks.append(result["rss_mib"])
            shutil.rmtree(reports, ignore_errors=True)
            say(f"  {tree.label} batch, {workers} worker(s), run {r + 1}: {wall:.1f} s, peak {max(peaks):.0f} MiB "
                f"({max(trees):.0f} MiB with its helper), "
                f"load {os.getloadavg()[0]:.2f}")
    tree.results["batch"] = {
        workers: {"wall": Stat(walls), "throughput": Stat([editions / w * 60 for w in walls]), "rss": Stat(peaks),
                  "tree": Stat(with_helpers), "build": Stat(per_build)}
        for workers, (walls, peaks, per_build, with_helpers) in collected.items()}


def record_failure(tree: Tree, stage: str, error: BenchError) -> None:
    """Keep the gist of a failure for the results, without this machine's temporary paths."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    reason = next((line.strip() for line in reversed(lines) if "Error" in line), lines[-1] if lines else "?")
    for path, name in ((str(tree.work.parent), "<tmp>"), (str(tree.root), "<project>"), (sys.executable, "python")):
        reason = reason.replace(path, name)
    tree.results.setdefault("errors", {})[stage] = reason
    say(f"  {tree.label} {stage}: FAILED: {reason}")


def attempt(tree: Tree, stage: str, bench, *args) -> None:
    """Run one figure's measurement; a failure is recorded (and shown in the results) instead of ending the run."""
    try:
        bench(*args)
    except BenchError as error:
        record_failure(tree, stage, error)


# --- workers (run inside the measured tree's processes) --------------------------------------------------------


def _paths():
    from pipeline.config import Paths

    return Paths.from_env()


def worker_print_html(edition: str, out: str) -> None:
    from pipeline.lib.build import build

    built = build(_paths(), edition)
    Path(out).write_text(built.html.print, encoding="utf-8")


def worker_pdf_stage(html_file: str, runs: str, out: str, edition: str = DEFAULT_EDITION) -> None:
    """`make_pdf`'s work (layout and export under one GC pause, one collection after), timed part by part, with
    both exports of the same layout: the real one (PDF/A-3a + PDF/UA-1: tags, the edition's sources embedded, the
    archival finisher; `write_options`) and the plain untagged one; then the blocking validator on the real PDF.
    The two exports alternate which goes first, so neither always pays for the other's garbage."""
    import resource

    from pipeline.lib.build import make_pdf
    from pipeline.lib.render import gc_paused, layout_pdf, write_pdf

    paths = _paths()
    html = Path(html_file).read_text(encoding="utf-8")
    try:  # a --variant copy from before the archival PDF measures the plain export only
        from pipeline.lib.build import embedded_sources
        from pipeline.lib.code_version import read_tree, report_code_version
        from pipeline.lib.conformance import check_pdf
        from pipeline.lib.pdf_archival import write_options
        from pipeline.lib.sources import read_edition
        from pipeline.lib.validate import validate_edition
    except ImportError:
        sources = None
    else:
        validated = validate_edition(read_edition(paths.sources, edition))
        code_version = report_code_version(read_tree(paths.templates))
        if "pages" in inspect.signature(embedded_sources).parameters:  # the pages carry their code version
            from pipeline.lib.build import Pages
            sources = embedded_sources(validated, Pages("", "", code_version))
        else:  # a --variant copy from before "what changed": (edition, code version)
            sources = embedded_sources(validated, code_version)  # type: ignore[arg-type]
    # warm-up: imports, fontconfig, first layout, the export, the validator
    warm = make_pdf(paths, html, sources) if sources is not None else make_pdf(paths, html)
    if sources is not None:
        check_pdf(warm.data)
    results = []
    for run in range(int(runs)):
        exports = ["plain", "archival"] if sources is not None else ["plain"]
        if run % 2:
            exports.reverse()
        timed: dict[str, float] = {}
        pdf: dict[str, bytes] = {}
        with gc_paused():  # exactly make_pdf's steps, with clocks between them
            start = time.perf_counter()
            laid_out = layout_pdf(html, paths.templates, paths.fonts)
            timed["layout"] = time.perf_counter() - start
            for export in exports:
                start = time.perf_counter()
                # the options are made per export, as the build does: an attachment can be read only once
                pdf[export] = write_pdf(laid_out, write_options(sources) if export == "archival" else None)
                timed[f"write_{export}"] = time.perf_counter() - start
            pages = laid_out.pages
            del laid_out
        result = {"layout": timed["layout"], "write_plain": timed["write_plain"],
                  "plain": timed["layout"] + timed["write_plain"], "plain_bytes": len(pdf["plain"])}
        if sources is not None:
            start = time.perf_counter()
            verdict = check_pdf(pdf["archival"])
            result |= {"write_archival": timed["write_archival"], "archival": timed["layout"] + timed["write_archival"],
                       "archival_bytes": len(pdf["archival"]), "check": time.perf_counter() - start,
                       "check_passed": verdict.passed, "check_summary": verdict.summary()}
        results.append(result)
    Path(out).write_text(json.dumps({"runs": results, "pages": pages,
                                     "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def worker_edit_loop(edition: str, runs: str, out: str) -> None:
    """The preview's own loop (watcher included) on temporary copies; a visible template edit per run."""
    import dataclasses

    from pipeline.config import Paths

    real = _paths()
    work = Path(tempfile.mkdtemp(prefix="bench-edit-"))
    try:
        shutil.copytree(real.sources / edition, work / "sources" / edition)
        shutil.copytree(real.templates, work / "templates")
        if "report_id" in {f.name for f in dataclasses.fields(Paths)}:  # one report's folders
            paths = Paths(real.report_id, work / "sources", work / "reports", work / "templates", real.fonts)
        else:  # a --variant copy from before reports had their own folders
            paths = Paths(work / "sources", work / "reports", work / "templates", real.fonts)
        from pipeline.preview import Preview

        preview = Preview(paths, edition, work / "preview")
        stop = threading.Event()
        watcher = threading.Thread(target=preview.watch, args=(stop,), daemon=True)
        watcher.start()

        def wait(predicate, what: str, timeout: float = 300) -> None:
            deadline = time.monotonic() + timeout
            while not predicate():
                if time.monotonic() > deadline:
                    raise BenchError(f"edit loop: timed out waiting for {what}")
                time.sleep(0.005)

        wait(lambda: len(preview.log) >= 1, "the first build")
        first = preview.log[-1]
        if not first.ok:
            raise BenchError(f"edit loop: the first build failed: {first.error}")
        template = work / "templates" / "strategy_report.html.j2"
        original = template.read_text(encoding="utf-8")
        results = []
        for n in range(1, int(runs) + 1):
            count = -1
            while count != len(preview.log) or preview.snapshot().building:  # quiet: no build running or due
                count = len(preview.log)
                time.sleep(0.5)
            version = preview.snapshot().version
            edited, found = re.subn(r"(<body[^>]*>)", rf'\1<p class="flush">修订第{n}稿</p>', original, count=1)
            if not found:
                raise BenchError("edit loop: the template has no <body> tag")
            start = time.perf_counter()
            template.write_text(edited, encoding="utf-8")
            wait(lambda v=version: preview.snapshot().version != v, "the page to change")
            page = time.perf_counter() - start
            wait(lambda c=count: len(preview.log) > c, "the rebuild to finish")
            done = time.perf_counter() - start
            record = preview.log[count]
            if not record.ok or record.changed != ["templates/strategy_report.html.j2"]:
                raise BenchError(f"edit loop: unexpected rebuild {record.summary()}")
            results.append({"seconds": done, "page_seconds": page, "build_seconds": record.seconds, "ran": record.ran,
                            "reused": record.reused, "timings": record.timings})
        stop.set()
        watcher.join(timeout=10)
        Path(out).write_text(json.dumps({"runs": results, "first": {"seconds": first.seconds,
                                                                     "timings": first.timings}}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def worker_batch(out: str, *editions: str) -> None:
    """One run-queue slot: each edition in a new `python -m pipeline build` process, one after the other."""
    builds = []
    for edition in editions:
        began = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "build", "--edition", edition])
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise BenchError(f"batch: edition {edition} failed")
        builds.append({"edition": edition, "seconds": time.perf_counter() - began, "rss_mib": usage.ru_maxrss / 1024})
    Path(out).write_text(json.dumps({"builds": builds, "rss_mib": max(b["rss_mib"] for b in builds)}))


def worker_register(*editions: str) -> None:
    from pipeline import cli

    try:  # the partitions of the report the build builds by default
        from pipeline.config import default_report_dir
        from pipeline.defs.partitions import names
        from pipeline.lib.report_def import load_report

        partitions = names(load_report(default_report_dir())).editions
    except ImportError:  # a --variant copy from before every report had its own Dagster names
        partitions = "editions"
    instance = cli._instance()
    missing = [e for e in editions if not instance.has_dynamic_partition(partitions, e)]
    if missing:
        instance.add_dynamic_partitions(partitions, missing)


def worker_steps(out: str) -> None:
    """Median duration of each Dagster step, and of the whole run, over the successful runs in DAGSTER_HOME."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    instance = DagsterInstance.get()
    records = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
    runs = [r.dagster_run for r in sorted(records, key=lambda r: r.create_timestamp)][1:]  # not the warm-up
    steps: dict[str, list[float]] = {}
    whole: list[float] = []
    for run in runs:
        started: dict[str, float] = {}
        first = last = None
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type_value
            if kind == "PIPELINE_START":
                first = entry.timestamp
            elif kind == "PIPELINE_SUCCESS":
                last = entry.timestamp
            elif kind == "STEP_START":
                started[entry.step_key] = entry.timestamp
            elif kind == "STEP_SUCCESS" and entry.step_key in started:
                # without the report's prefix (xiaomi_ecosystem__source_tables), so copies from before it compare
                step = entry.step_key.partition("__")[2] or entry.step_key
                steps.setdefault(step, []).append(entry.timestamp - started[entry.step_key])
        if first is not None and last is not None:
            whole.append(last - first)
    Path(out).write_text(json.dumps({"runs": len(whole), "run": statistics.median(whole) if whole else None,
                                     "steps": {k: statistics.median(v) for k, v in steps.items()}}))


WORKERS = {"print-html": worker_print_html, "pdf-stage": worker_pdf_stage, "edit-loop": worker_edit_loop,
           "batch": worker_batch, "register": worker_register, "steps": worker_steps}


# --- the report ------------------------------------------------------------------------------------------------


def machine() -> list[str]:
    import importlib.metadata

    import psutil

    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown")
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    try:
        chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        chromium = "not found"
    return [
        f"- CPU: {model}, {psutil.cpu_count(logical=False) or '?'} cores / {os.cpu_count()} threads",
        f"- Memory: {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python {platform.python_version()}; {', '.join(versions)}",
        f"- Browser: {chromium}",
    ]


def ratio(a: Stat | None, b: Stat | None) -> float | None:
    return a.median / b.median if a and b and a.values and b.values else None


def verdict(value: float | None, limit: float, below: bool = True) -> str:
    if value is None:
        return "not measured"
    return "**met**" if (value <= limit if below else value >= limit) else "**missed**"


def render(trees: list[Tree], args: argparse.Namespace, load: tuple[tuple[float, ...], tuple[float, ...]],
           started: float) -> str:
    def get(tree: Tree, *keys):
        value = tree.results
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return value

    def cell(tree: Tree, *keys, unit="s", digits=2) -> str:
        stat = get(tree, *keys)
        return stat.fmt(unit, digits) if isinstance(stat, Stat) else "–"

    labels = [t.label for t in trees]
    lines = [BEGIN, "", f"## Figures ({dt.date.today().isoformat()})", "",
             f"Median of {args.runs} runs (min–max) unless said otherwise; the batch ran {args.batch_runs}× per "
             f"worker count. Whole benchmark: {(time.time() - started) / 60:.1f} min.", "", "Machine:", "",
             *machine(),
             f"- Load average (1, 5, 15 min) at start {load[0][0]:.2f} {load[0][1]:.2f} {load[0][2]:.2f}, at end "
             f"{load[1][0]:.2f} {load[1][1]:.2f} {load[1][2]:.2f}; 1-minute load sampled every 10 s: "
             f"{Stat(LOAD.samples or [0.0]).fmt('', 2)} (the batch's own build and helper processes count too). "
             "Outside the batch, a load above ~1 on these 2 cores means the measured process shared the CPU with "
             "something else, so absolute times carry that noise. New-process figures are taken round-robin over the "
             "columns so a load change hits them alike; warm-process figures and the batch run one column after "
             "the other.", "",
             "| figure | " + " | ".join(labels) + " |", "|---|" + "---|" * len(trees)]

    def row(name: str, render_cell) -> None:
        lines.append(f"| {name} | " + " | ".join(render_cell(t) for t in trees) + " |")

    row("1. cold full build: new process, Dagster, all assets, HTML + PDF", lambda t: cell(t, "cold", "seconds"))
    row("   peak RSS of that process / with its child processes (PSS, sampled)",
        lambda t: f"{cell(t, 'cold', 'rss', unit='MiB', digits=0)} / {cell(t, 'cold', 'tree', unit='MiB', digits=0)}")
    row("2. floor: new process, WeasyPrint only (same print HTML)", lambda t: cell(t, "floor", "seconds"))
    row("   peak RSS of that process", lambda t: cell(t, "floor", "rss", unit="MiB", digits=0))
    row("3. Chromium headless print-to-pdf, new process", lambda t: cell(t, "chromium", "seconds"))
    row("   peak RSS, largest Chromium process / whole tree (sampled)",
        lambda t: f"{cell(t, 'chromium', 'rss', unit='MiB', digits=0)} / "
                  f"{cell(t, 'chromium', 'tree', unit='MiB', digits=0)}")
    row("   our PDF stage in a warm process (layout + write; PDF/A-3a + PDF/UA-1 as the build writes it)",
        lambda t: cell(t, "pdf", "total"))
    row("   … of which layout", lambda t: cell(t, "pdf", "layout"))
    row("   … of which write (paint, fonts, tags, sources, PDF, one GC collection)", lambda t: cell(t, "pdf", "write"))
    row("   … the same layout written plain (untagged, nothing embedded)", lambda t: cell(t, "pdf", "plain"))
    row("4. edit loop: template save → PDF written (warm preview)", lambda t: cell(t, "edit", "seconds"))
    row("   … save → page served again", lambda t: cell(t, "edit", "page"))
    row("   … steps that ran / were reused",
        lambda t: (" ; ".join("+".join(r) for r in get(t, "edit", "ran")) + " / "
                   + " ; ".join("+".join(r) for r in get(t, "edit", "reused"))) if get(t, "edit") else "–")
    row("   first build in the preview process (cold, all steps)",
        lambda t: f"{get(t, 'edit', 'first', 'seconds'):.2f} s" if get(t, "edit") else "–")
    for workers in (1, 2):
        row(f"5. batch of {args.batch_editions} editions, {workers} worker(s): wall",
            lambda t, w=workers: cell(t, "batch", w, "wall", digits=1))
        row("   throughput (editions/min)", lambda t, w=workers: cell(t, "batch", w, "throughput", unit="", digits=2))
        row("   one edition's build inside a worker", lambda t, w=workers: cell(t, "batch", w, "build"))
        row("   peak RSS of a build process / a worker with all its processes (PSS, sampled)",
            lambda t, w=workers: f"{cell(t, 'batch', w, 'rss', unit='MiB', digits=0)} / "
                                 f"{cell(t, 'batch', w, 'tree', unit='MiB', digits=0)}")

    failures = [(t.label, stage, reason) for t in trees for stage, reason in t.results.get("errors", {}).items()]
    if failures:
        lines += ["", "Failed measurements:", ""]
        lines += [f"- {label}, {stage}: `{reason[:300]}`" for label, stage, reason in failures]
    lines += ["", "### Targets (ratios of medians from this run)", "",
              "| target | " + " | ".join(labels) + " |", "|---|" + "---|" * len(trees)]

    def target(name: str, compute) -> None:
        lines.append(f"| {name} | " + " | ".join(compute(t) for t in trees) + " |")

    def show(value: float | None, limit: float, below: bool = True, suffix: str = "×") -> str:
        return "–" if value is None else f"{value:.2f}{suffix} {verdict(value, limit, below)}"

    target("cold build ≤ 2.5× floor", lambda t: show(ratio(get(t, "cold", "seconds"), get(t, "floor", "seconds")),
                                                     TARGETS["cold"]))
    target("cold build ≤ 2.0× floor (stretch)",
           lambda t: show(ratio(get(t, "cold", "seconds"), get(t, "floor", "seconds")), TARGETS["cold_stretch"]))
    target("our PDF stage ≤ 1.0× Chromium's whole print",
           lambda t: show(ratio(get(t, "pdf", "total"), get(t, "chromium", "seconds")), TARGETS["pdf"]))

    def edit(t: Tree) -> str:
        value = ratio(get(t, "edit", "seconds"), get(t, "floor", "seconds"))
        only = get(t, "edit", "ran") == [("html", "pdf")]
        return show(value, TARGETS["edit"]) + ("; only html+pdf re-ran" if only else "; **other steps re-ran**")

    target("edit loop ≤ 1.3× floor, only template steps", lambda t: edit(t) if get(t, "edit") else "–")

    def batch(t: Tree) -> str:
        one, two = get(t, "batch", 1, "throughput"), get(t, "batch", 2, "throughput")
        return show(ratio(two, one), TARGETS["batch"], below=False)

    target("two workers ≥ 1.7× the throughput of one", batch)

    def memory(t: Tree) -> str:
        peaks = [s for s in (get(t, "batch", 2, "rss"), get(t, "batch", 1, "rss"), get(t, "cold", "rss"),
                             get(t, "batch", 2, "tree"), get(t, "batch", 1, "tree"), get(t, "cold", "tree")) if s]
        if not peaks:
            return "–"
        worst = max(max(s.values) for s in peaks)
        return f"{worst:.0f} MiB {verdict(worst, TARGETS['memory_mib'])}"

    target("peak memory per worker ≤ 400 MiB (worst of cold build and batch workers, child processes included)",
           memory)

    steps = [t for t in trees if get(t, "steps", "steps")]
    if steps:
        keys = list(dict.fromkeys(k for t in steps for k in t.results["steps"]["steps"]))
        lines += ["", "### Where the cold build's time goes (Dagster step durations, median over the timed runs)", "",
                  "| step | " + " | ".join(t.label for t in steps) + " |", "|---|" + "---|" * len(steps)]
        for key in keys:
            lines.append(f"| {key} | " + " | ".join(
                f"{t.results['steps']['steps'][key]:.2f} s" if key in t.results["steps"]["steps"] else "–"
                for t in steps) + " |")
        lines.append("| whole run (PIPELINE_START → SUCCESS) | " + " | ".join(
            f"{t.results['steps']['run']:.2f} s" for t in steps) + " |")
        lines.append("| outside the run: interpreter, imports, instance, run creation | " + " | ".join(
            f"{get(t, 'cold', 'seconds').median - t.results['steps']['run']:.2f} s" if get(t, "cold") else "–"
            for t in steps) + " |")
    lines += ["", END]
    return "\n".join(lines)


def render_pdf_export(trees: list[Tree], args: argparse.Namespace,
                      load: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
    """The archival PDF's cost: the real export (PDF/A-3a + PDF/UA-1, sources embedded) beside the plain untagged
    one, from the same layout in the same process and run; file sizes; the validator's own time; the budget."""
    measured = [t for t in trees if isinstance(t.results.get("pdf", {}).get("archival"), Stat)]
    labels = [t.label for t in measured]

    def cell(t: Tree, key: str, unit: str = "s", digits: int = 2) -> str:
        return t.results["pdf"][key].fmt(unit, digits)

    def kib(t: Tree, key: str) -> str:
        stat = t.results["pdf"][key]
        return Stat([v / 1024 for v in stat.values]).fmt("KiB", 0)

    lines = [PDF_BEGIN, "", f"## What PDF/A + tagging cost ({dt.date.today().isoformat()})", "",
             f"The PDF stage in a warm process, median of {args.runs} runs (min–max): each run lays the print HTML "
             "out once and writes it twice, as the build does (`write_pdf(laid_out, write_options(sources))`: "
             "PDF/A-3a + PDF/UA-1, tagged, the edition's sources embedded, the archival finisher) and plain "
             "(`write_pdf(laid_out)`: untagged, nothing embedded), the two in alternating order; then the build's "
             "blocking validator (`conformance.check_pdf`, PDF/UA-1 and PDF/A-3a) on the archival file. "
             f"Load average (1, 5, 15 min) at start {load[0][0]:.2f} {load[0][1]:.2f} {load[0][2]:.2f}, at end "
             f"{load[1][0]:.2f} {load[1][1]:.2f} {load[1][2]:.2f}; 1-minute load sampled every 10 s: "
             f"{Stat(LOAD.samples or [0.0]).fmt('', 2)}. The machine (the one under Figures above) was shared with "
             "other work while this ran, so absolute times carry that noise; the time budget is judged on per-run "
             "ratios (both exports of one layout), from which a load change between runs cancels out.", ""]
    if not measured:
        return "\n".join([*lines, "Not measured in this run.", "", PDF_END])
    lines += ["| figure | " + " | ".join(labels) + " |", "|---|" + "---|" * len(measured)]

    def row(name: str, render_cell) -> None:
        lines.append(f"| {name} | " + " | ".join(render_cell(t) for t in measured) + " |")

    row("layout (shared by both exports)", lambda t: cell(t, "layout"))
    row("write, plain untagged", lambda t: cell(t, "write_plain"))
    row("write, PDF/A-3a + PDF/UA-1 with sources (the build's)", lambda t: cell(t, "write_archival"))
    row("PDF stage (layout + write), plain untagged", lambda t: cell(t, "plain"))
    row("PDF stage (layout + write), archival (the build's)", lambda t: cell(t, "archival"))
    row("PDF size, plain untagged", lambda t: kib(t, "plain_bytes"))
    row("PDF size, archival (the build's)", lambda t: kib(t, "archival_bytes"))
    row("validator `check_pdf` on the archival PDF (both profiles)", lambda t: cell(t, "check"))
    row("validator verdict", lambda t: ("passed" if t.results["pdf"]["check_passed"] else "**failed**")
        + f": {t.results['pdf']['check_summary']}")
    row("pages", lambda t: str(t.results["pdf"]["pages"]))
    lines += ["", "| budget | " + " | ".join(labels) + " |", "|---|" + "---|" * len(measured)]

    def show(value: float | None, limit: float, suffix: str = "×") -> str:
        return "–" if value is None else f"{value:.2f}{suffix} {verdict(value, limit)}"

    def paired(t: Tree, key: str) -> str:
        stat = t.results["pdf"][key]
        return f"(per run {min(stat.values):.2f}–{max(stat.values):.2f}×)"

    row("PDF stage ≤ 1.15× the plain one (at most 15% slower; median of the per-run ratios)",
        lambda t: f"{show(t.results['pdf']['stage_ratio'].median, TARGETS['archival_time'])} "
                  f"{paired(t, 'stage_ratio')}")
    row("   … the export alone, archival / plain write (not budgeted)",
        lambda t: f"{t.results['pdf']['write_ratio'].median:.2f}× {paired(t, 'write_ratio')}")
    row("PDF file ≤ 1.30× the plain one (at most 30% larger)",
        lambda t: show(ratio(t.results["pdf"]["archival_bytes"], t.results["pdf"]["plain_bytes"]),
                       TARGETS["archival_size"]))
    row("validator < 1 s", lambda t: show(t.results["pdf"]["check"].median, TARGETS["check_s"], " s"))
    lines += ["", PDF_END]
    return "\n".join(lines)


def _replace_block(text: str, begin: str, end: str, block: str, after: str | None = None) -> str:
    """`text` with the part between `begin` and `end` replaced by `block` (which carries the markers); a block not
    yet there goes right after the marker `after`, else at the top."""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + block + rest.split(end, 1)[1]
    if after is not None and after in text:
        head, rest = text.split(after, 1)
        return head + after + "\n\n" + block + rest
    return block + "\n" + text


def write_results(path: Path, block: str | None, pdf_block: str | None = None) -> None:
    """Rewrite the generated blocks given (None: keep that block as it is in the file)."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    text = old
    if block is not None:
        text = _replace_block(text, BEGIN, END, block)
    if pdf_block is not None:
        text = _replace_block(text, PDF_BEGIN, PDF_END, pdf_block, after=END)
    if not old:
        text = ("# Benchmark results (issue 7)\n\nWritten by `make bench` (`benchmarks/run.py`); the parts between "
                "the bench markers are regenerated on every run, the rest is kept.\n\n" + text)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median, min, max); default 5")
    parser.add_argument("--batch-editions", type=int, default=20, help="editions in the batch (default 20)")
    parser.add_argument("--batch-runs", type=int, default=1, help="batch repetitions per worker count (default 1)")
    parser.add_argument("--edition", default=DEFAULT_EDITION, help=f"edition to measure ({DEFAULT_EDITION})")
    parser.add_argument("--only", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=DIR[@STAGES]",
                        help="also measure another copy of the project (e.g. with a proposed fix) as a column; "
                             "@cold,pdf,... limits it to those figures")
    parser.add_argument("--project", type=Path, default=ROOT, metavar="DIR",
                        help="the copy of the project measured as 'as is' (default: this one)")
    parser.add_argument("--label", default="as is", help="column label of --project (default 'as is')")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file (default benchmarks/RESULTS.md)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, PDFs)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.worker:
        WORKERS[args.worker](*rest)
        return 0
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    only = set(args.only.split(","))
    if unknown := only - set(STAGES):
        parser.error(f"unknown stage(s) in --only: {', '.join(sorted(unknown))}")

    started = time.time()
    load_start = os.getloadavg()
    LOAD.start()
    base = Path(tempfile.mkdtemp(prefix="report-bench-"))
    trees = [Tree(args.label, args.project.resolve(), base / "as-is")]
    stages = {args.label: only}
    for spec in args.variant:
        label, _, rest = spec.partition("=")
        folder, _, subset = rest.partition("@")
        if not folder or not (Path(folder) / "pipeline").is_dir() or label in stages:
            parser.error(f"--variant {spec!r}: expected LABEL=DIR[@stage,...], DIR a copy of the project")
        stages[label] = (set(subset.split(",")) & only) if subset else only
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "variant"
        trees.append(Tree(label, Path(folder).resolve(), base / f"{len(trees)}-{slug}"))
    try:
        html: dict[str, Path] = {}
        own_html: dict[str, bool] = {}
        for tree in trees:
            tree.work.mkdir(parents=True)
            if stages[tree.label] & {"floor", "chromium", "pdf"}:
                say(f"print HTML of {tree.label!r}")
                html[tree.label] = make_print_html(tree, args.edition)
                twin = next((t for t in trees if t.label in html and t is not tree
                             and html[t.label].read_bytes() == html[tree.label].read_bytes()), None)
                own_html[tree.label] = twin is None
                if twin is not None:  # same print HTML: the floor and Chromium are the same work
                    tree.results["twin"] = twin.label
            else:
                own_html[tree.label] = False
        say("new-process figures (cold build, floor, Chromium), round-robin over the trees")
        new_process_rounds(trees, stages, args.runs, args.edition, html, own_html)
        for tree in trees:
            if twin := tree.results.get("twin"):
                source = next(t for t in trees if t.label == twin)
                for key in ("floor", "chromium"):
                    if key in source.results:
                        tree.results[key] = source.results[key]
            say(f"warm-process figures of {tree.label!r}")
            if "pdf" in stages[tree.label] and tree.label in html:
                attempt(tree, "pdf", bench_pdf, tree, args.runs, html[tree.label], args.edition)
            if "edit" in stages[tree.label]:
                attempt(tree, "edit", bench_edit, tree, args.runs, args.edition)
            if "batch" in stages[tree.label]:
                attempt(tree, "batch", bench_batch, tree, args.batch_editions, args.batch_runs, args.edition)
        load = (load_start, os.getloadavg())
        block = render(trees, args, load, started)
        pdf_block = render_pdf_export(trees, args, load) if "pdf" in only else None
        full = only == set(STAGES)
        write_results(args.out, block if full else None, pdf_block)
        print(block.replace(BEGIN, "").replace(END, ""))
        if pdf_block:
            print(pdf_block.replace(PDF_BEGIN, "").replace(PDF_END, ""))
        say(f"wrote {args.out}" + ("" if full else " (its main figures kept: this run measured only "
                                               f"{', '.join(sorted(only))})"))
    finally:
        if args.keep:
            say(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
