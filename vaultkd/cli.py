"""The `vaultkd` command line: thin click commands over library functions.

Library errors become one clear line on stderr and a non-zero exit code
(0 ok, 1 failure, 2 usage). Nothing here holds logic of its own.
"""

from __future__ import annotations

import click

from vaultkd import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaultkd")
def main() -> None:
    """Distill an Obsidian/Markdown vault with a small local model."""


# Commands are added below, one section per command, each calling into the library.


# ---------------------------------------------------------------- distill / undo / status
# Imports stay inside the commands so `vaultkd --help` does not load the model stack.

_RETRIES = 3  # a note Obsidian saved while we worked is tried again this many times


def _vault_and_notes(
    notes: tuple[str, ...], vault: str | None, all_: bool
) -> tuple[object, list[str]]:
    """(vault root, vault-relative note paths) from what the user typed."""
    from pathlib import Path

    from vaultkd.pipeline import VaultNotFound, find_vault

    if all_:
        if vault is None and len(notes) > 1:
            raise click.UsageError("--all takes one VAULT folder (or --vault DIR)")
        root = Path(vault or (notes[0] if notes else ".")).resolve()
        if not root.is_dir():
            raise click.UsageError(f"{root}: not a folder; give the vault folder with --all")
        return root, []
    if not notes:
        raise click.UsageError("give at least one NOTE, or --all VAULT")
    try:
        root = Path(vault).resolve() if vault else find_vault(Path(notes[0]))
    except VaultNotFound as exc:
        raise click.UsageError(str(exc)) from None
    rels = []
    for raw in notes:
        p = Path(raw)
        # An absolute path or one relative to the current folder (the Obsidian shell-commands
        # plugin passes absolute paths); otherwise the path is taken as vault-relative.
        here = p if p.is_absolute() else Path.cwd() / p
        if here.is_dir():
            # `vaultkd distill ~/Notes` most likely means the whole vault; say how.
            raise click.UsageError(
                f"{raw}: is a folder, not a note; to distil every note in it run "
                f"`vaultkd distill --all {raw}`"
            )
        if p.is_absolute() or here.exists():
            try:
                rels.append(here.resolve().relative_to(root).as_posix())
            except ValueError:
                raise click.UsageError(f"{raw}: not inside the vault {root}") from None
        else:
            rels.append(p.as_posix())
    return root, rels


def _distill_batch(
    session: object, todo: list[str], options: object, jobs: int, bar: bool, reports: bool
) -> list:  # type: ignore[type-arg]
    """One `Session.distill` call, with a progress bar on stderr when asked."""
    import sys

    if not bar:
        return session.distill(  # type: ignore[attr-defined]
            todo, options, None, jobs, reports=reports
        )
    with click.progressbar(length=2 * len(todo), label="Distilling", file=sys.stderr) as pbar:
        last = [0]

        def step(done: int, total: int) -> None:
            pbar.update(done - last[0])
            last[0] = done

        return session.distill(  # type: ignore[attr-defined]
            todo, options, step, jobs, reports=reports
        )


@main.command()
@click.argument("notes", nargs=-1)
@click.option("--vault", type=click.Path(file_okay=False), help="Vault folder (default: found "
              "by walking up from the note to a folder with .obsidian/ or .vaultkd.toml).")
@click.option("--all", "all_", is_flag=True, help="Distill every note of VAULT whose bytes, "
              "model or mode changed since the last run.")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-note report as JSON.")
@click.option("--inline", is_flag=True, help="Progressive summary inside the note itself "
              "(bold/highlight + a marked summary region); reversible with `vaultkd undo`.")
@click.option("--block-refs", is_flag=True, help="Append ^vkd-… block ids to the source "
              "paragraphs the distillation cites (nothing else in the note changes).")
@click.option("--force", is_flag=True, help="Distill even notes that are up to date.")
@click.option("--jobs", type=click.IntRange(1, 32), default=None,
              help="Model threads [default: as many as the cores, counting each of the "
              "model's own intra-op threads].")
def distill(
    notes: tuple[str, ...], vault: str | None, all_: bool, dry_run: bool, as_json: bool,
    inline: bool, block_refs: bool, force: bool, jobs: int | None,
) -> None:
    """Distill NOTE… (or --all VAULT) into claims, questions, decisions, actions, atomic
    notes and a progressive summary. Prints one line per note; exit 0 ok, 1 failure."""
    import json
    import sys
    import time

    from vaultkd.config import ConfigError
    from vaultkd.model.runtime import ModelError, model_jobs
    from vaultkd.pipeline import DistillOptions, Session
    from vaultkd.vault.errors import VaultError
    from vaultkd.write.lock import VaultLocked, write_lock

    root, rels = _vault_and_notes(notes, vault, all_)
    jobs = jobs or model_jobs()
    options = DistillOptions(inline=inline, block_refs=block_refs, force=force,
                             dry_run=dry_run)
    try:
        session = Session.open(root)  # type: ignore[arg-type]
    except (ConfigError, ModelError, VaultError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    with session:
        if all_:
            rels = session.sources() if force else session.pending(options)
        results = {}
        try:
            todo = list(rels)
            for attempt in range(_RETRIES):
                with write_lock(root):  # type: ignore[arg-type]
                    show = all_ and len(todo) > 1 and sys.stderr.isatty() and not as_json
                    batch = _distill_batch(session, todo, options, jobs, show, as_json)
                for r in batch:
                    results[r.note] = r
                todo = [r.note for r in batch if r.status == "retry"]
                if not todo or attempt == _RETRIES - 1:
                    break
                time.sleep(0.5 * (attempt + 1))
        except VaultLocked as exc:
            raise click.ClickException(str(exc)) from None
    ordered = [results[r] for r in dict.fromkeys(results)]
    failed = [r for r in ordered if r.status in ("error", "retry")]
    if as_json:
        payload = [
            r.report if r.report is not None
            else {"note": r.note, "status": r.status, "message": r.message,
                  "written": r.written, "kept": r.kept}
            for r in ordered
        ]
        click.echo(json.dumps(payload if not (len(payload) == 1 and not all_) else payload[0],
                              ensure_ascii=False, indent=2))
    else:
        for r in ordered:
            if all_ and r.status == "unchanged":
                continue
            click.echo(r.message, err=r.status in ("error", "retry"))
        if all_:
            counts: dict[str, int] = {}
            for r in ordered:
                counts[r.status] = counts.get(r.status, 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "up to date"
            click.echo(f"{root}: {len(ordered)} note(s) distilled: {summary}")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("note")
@click.option("--vault", type=click.Path(file_okay=False), help="Vault folder (default: "
              "found from the note).")
@click.option("--force", is_flag=True, help="Restore even if the note changed since "
              "vaultkd's edit (the current version is kept in the undo log).")
def undo(note: str, vault: str | None, force: bool) -> None:
    """Restore NOTE byte for byte to how it was before vaultkd's last edit of it."""
    from vaultkd.pipeline import undo_note
    from vaultkd.write.atomic import ChangedOnDisk
    from vaultkd.write.lock import VaultLocked, write_lock
    from vaultkd.write.paths import UnsafePath
    from vaultkd.write.writer import UndoError

    root, rels = _vault_and_notes((note,), vault, False)
    try:
        with write_lock(root):  # type: ignore[arg-type]
            click.echo(undo_note(root, rels[0], force=force))  # type: ignore[arg-type]
    except (UndoError, ChangedOnDisk, UnsafePath, VaultLocked) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.argument("vault", type=click.Path(file_okay=False), default=".")
@click.option("--json", "as_json", is_flag=True, help="Print the lists as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="List every note, not just counts.")
def status(vault: str, as_json: bool, verbose: bool) -> None:
    """What in VAULT is distilled, stale, never distilled, kept because you edited it,
    orphaned, or blocked by a note of yours at a distillation's path."""
    import json
    from pathlib import Path

    from vaultkd.config import STATE_DIR, Config, ConfigError
    from vaultkd.model.runtime import ModelError, load_predictor
    from vaultkd.pipeline import STATE_DB, vault_status
    from vaultkd.vault.errors import VaultError
    from vaultkd.write.state import StateDB

    root = Path(vault).resolve()
    if not root.is_dir():
        raise click.UsageError(f"{vault}: not a folder; give the vault folder")
    try:
        config = Config.load(root)
        version = load_predictor().version
        db = StateDB(root / STATE_DIR / STATE_DB)
        try:
            report = vault_status(root, db, config, version)
        finally:
            db.close()
    except (ConfigError, ModelError, VaultError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for key, paths in report.items():
        click.echo(f"{key}: {len(paths)}")
        shown = paths if verbose or key in ("kept", "orphaned", "error", "blocked") else []
        for p in shown:
            click.echo(f"  {p}")
    if report.get("blocked"):
        click.echo("blocked: your own notes sit where these distillations go; vaultkd never "
                   "replaces them. Move them, or set distilled_folder in .vaultkd.toml.")


# ---------------------------------------------------------------- train


@main.command()
@click.option("--smoke", is_flag=True, help="Tiny data and models, a few minutes, in a tmp dir.")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Where stages keep their outputs and resume from (default runs/full).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Model folder to write (default models/; with --smoke, RUN_DIR/models).",
)
@click.option(
    "--stage",
    "stages",
    multiple=True,
    help="Run only these stages: teacher, label, tokenizer, student, ablation, export, evaluate "
    "(the default: all of them), or sweep (architecture and α/τ comparison) or card (re-render "
    "metrics.json and the model card from the run dir without re-measuring).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--threads", type=int, default=2, show_default=True, help="CPU threads.")
@click.option(
    "--corpus",
    type=click.Path(file_okay=False, path_type=str),
    default=None,
    help="Folder of .txt files for the transfer set (default RUN_DIR/corpus, built if absent).",
)
@click.option(
    "--transfer-limit", type=int, default=150_000, show_default=True,
    help="Transfer sentences sampled from the corpus for the teacher to label.",
)
@click.option("--set", "sets", multiple=True, help="Override a KDConfig knob: key=value.")
def train(
    smoke: bool,
    run_dir: str | None,
    out: str | None,
    stages: tuple[str, ...],
    seed: int,
    threads: int,
    corpus: str | None,
    transfer_limit: int | None,
    sets: tuple[str, ...],
) -> None:
    """Train the teacher and distil the student into models/ (needs the [train] extra)."""
    from pathlib import Path

    try:
        from vaultkd.train import MissingTrainExtra
        from vaultkd.train.pipeline import run_command
    except ImportError as exc:  # the [train] extra is missing
        raise click.ClickException(str(exc)) from None
    try:
        cfg = run_command(
            smoke=smoke,
            run_dir=Path(run_dir) if run_dir else None,
            out=Path(out) if out else None,
            stages=stages,
            seed=seed,
            threads=threads,
            corpus=Path(corpus) if corpus else None,
            transfer_limit=transfer_limit,
            sets=sets,
        )
    except MissingTrainExtra as exc:
        raise click.ClickException(str(exc)) from None
    except (FileNotFoundError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"done; run dir {cfg.run_dir}, model folder {cfg.out}")


# -- watch, service, hook: the daemon and its helpers (vaultkd/daemon/) -----------------------


class _CatchUpBar:
    """Daemon progress callback (done, total) drawn as a click progress bar on stderr."""

    def __init__(self) -> None:
        self._bar: object | None = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            return
        if self._bar is None:
            self._bar = click.progressbar(
                length=total, label="catching up", file=click.get_text_stream("stderr")
            )
            self._bar.__enter__()  # type: ignore[attr-defined]
        self._bar.update(done - self._done)  # type: ignore[attr-defined]
        self._done = done
        if done >= total:
            self._bar.__exit__(None, None, None)  # type: ignore[attr-defined]


@main.command()
@click.argument("vault", type=click.Path(exists=True, file_okay=False, resolve_path=True))
@click.option(
    "--quiet-period",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds without changes before a saved note is distilled "
    "(default: quiet_period in .vaultkd.toml, else 2).",
)
@click.option(
    "--polling",
    is_flag=True,
    default=False,
    help="Poll the disk instead of using inotify/FSEvents (network drives; also `polling = true`).",
)
@click.option(
    "-v", "--verbose", is_flag=True, help="Log to stderr as well as to .vaultkd/vaultkd.log."
)
def watch(vault: str, quiet_period: float | None, polling: bool, verbose: bool) -> None:
    """Watch VAULT and re-distill each note a quiet period after it is saved.

    Catches up first with what changed while it was not running. One watcher per vault;
    stops cleanly on Ctrl-C or SIGTERM.
    """
    import logging
    from pathlib import Path

    from vaultkd.config import Config, ConfigError
    from vaultkd.daemon.logs import setup_logging
    from vaultkd.daemon.watcher import Daemon
    from vaultkd.write.lock import VaultLocked

    root = Path(vault)
    try:
        config = Config.load(root)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    detach = setup_logging(root, verbose)
    try:
        daemon = Daemon(
            root,
            config=config,
            quiet_period=quiet_period,
            polling=True if polling else None,
            progress=_CatchUpBar(),
        )
        daemon.run()
    except VaultLocked as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # one line for the user; the traceback goes to the log
        logging.getLogger("vaultkd.daemon").debug("watch failed", exc_info=True)
        raise click.ClickException(f"{vault}: {exc}") from None
    finally:
        detach()


@main.group()
def service() -> None:
    """Run `vaultkd watch VAULT` in the background: a systemd user unit or a launchd agent."""


def _service_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option(
        "--dir",
        "target_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Use this folder instead of ~/.config/systemd/user or ~/Library/LaunchAgents.",
    )(func)
    return click.argument(
        "vault", type=click.Path(exists=True, file_okay=False, resolve_path=True)
    )(func)


def _service_paths(vault: str, target_dir: str | None) -> dict[str, object]:
    from pathlib import Path

    return {"vault_root": Path(vault), "target_dir": Path(target_dir) if target_dir else None}


@service.command("install")
@_service_options
@click.option("--dry-run", is_flag=True, help="Print the service file instead of writing it.")
def service_install(vault: str, target_dir: str | None, dry_run: bool) -> None:
    """Write the service file for VAULT and print the command that starts it (nothing starts)."""
    from vaultkd.daemon import service as svc

    try:
        if dry_run:
            found = svc.service_file(**_service_paths(vault, target_dir))  # type: ignore[arg-type]
            click.echo(f"# would write {found.path}")
            click.echo(found.content.decode("utf-8"), nl=False)
            return
        found = svc.install(**_service_paths(vault, target_dir))
    except (svc.ServiceError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {found.path}")
    click.echo(f"start it now and at every log-in with: {found.enable}")


@service.command("uninstall")
@_service_options
def service_uninstall(vault: str, target_dir: str | None) -> None:
    """Remove the service file for VAULT (stop the service first with the printed command)."""
    from vaultkd.daemon import service as svc

    try:
        found = svc.service_file(**_service_paths(vault, target_dir))  # type: ignore[arg-type]
        removed = svc.uninstall(**_service_paths(vault, target_dir))
    except (svc.ServiceError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if removed is None:
        click.echo(f"not installed: {found.path}")
        return
    click.echo(f"removed {found.path}")
    click.echo(f"if it is still running, stop it with: {found.disable}")


@service.command("status")
@_service_options
def service_status(vault: str, target_dir: str | None) -> None:
    """Say whether a service for VAULT is installed and what the service manager reports."""
    from vaultkd.daemon import service as svc

    try:
        found, installed, state = svc.status(**_service_paths(vault, target_dir))
    except svc.ServiceError as exc:
        raise click.ClickException(str(exc)) from None
    where = f"installed: {found.path}" if installed else f"not installed: {found.path}"
    click.echo(f"{where}" + (f" ({state})" if state else ""))


@main.group()
def hook() -> None:
    """Settings for running vaultkd from other programs."""


@hook.command("obsidian")
@click.option(
    "--cooldown",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Suggested debounce when bound to the 'File content modified' event.",
)
def hook_obsidian(cooldown: float) -> None:
    """Print ready-to-paste settings for Obsidian's "Shell commands" plugin."""
    from vaultkd.daemon.hook import obsidian_settings

    click.echo(obsidian_settings(cooldown=cooldown), nl=False)


# ---------------------------------------------------------------- graph

_EXPORT_SUFFIXES = (".graphml", ".gexf", ".json")


def _check_export(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.lower().endswith(_EXPORT_SUFFIXES):
        raise click.BadParameter("FILE must end in .graphml, .gexf or .json", ctx, param)
    return value


@main.command()
@click.argument("vault", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--orphans", is_flag=True, help="List notes with no links in or out.")
@click.option(
    "--unresolved", is_flag=True, help="List link targets that reach no file, with their notes."
)
@click.option(
    "--export",
    "export_path",
    metavar="FILE",
    callback=_check_export,
    help="Also write the graph to FILE (.graphml, .gexf or node-link .json).",
)
def graph(
    vault: str, as_json: bool, orphans: bool, unresolved: bool, export_path: str | None
) -> None:
    """Read VAULT into a link graph and print its stats (notes, links, unresolved, hubs).

    A note that cannot be read is reported on stderr and the rest of the vault is still read;
    the exit code is then 1.
    """
    import json
    import sys
    from pathlib import Path

    from vaultkd.vault.errors import VaultError
    from vaultkd.vault.graph import VaultGraph, graph_jobs

    root = Path(vault)
    if not root.is_dir():
        raise click.ClickException(f"{vault}: not a folder; give the path of your vault's folder")
    try:
        if sys.stderr.isatty():
            with click.progressbar(length=1, label="Reading vault", file=sys.stderr) as bar:

                def step(done: int, total: int) -> None:
                    bar.length = total
                    bar.update(done - bar.pos)

                vg = VaultGraph.build(root, progress=step, jobs=graph_jobs())
        else:
            vg = VaultGraph.build(root, jobs=graph_jobs())
        if export_path:
            vg.export(Path(export_path))
    except (VaultError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for message in vg.errors.values():
        click.echo(f"error: {message}", err=True)
    stats = vg.stats()
    if as_json:
        out: dict[str, object] = {"vault": str(root), **stats}
        if orphans:
            out["orphan_notes"] = vg.orphans()
        if unresolved:
            out["unresolved"] = vg.unresolved()
        if vg.errors:
            out["errors"] = list(vg.errors.values())
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    elif orphans or unresolved:
        if orphans:
            for path in vg.orphans():
                click.echo(path)
        if unresolved:
            for target, sources in vg.unresolved().items():
                click.echo(f"{target}\t{', '.join(sources)}")
    else:
        rows = [
            ("notes", stats["notes"]),
            ("attachments", stats["attachments"]),
            ("links", stats["links"]),
            ("embeds", stats["embeds"]),
            ("unresolved targets", stats["unresolved_targets"]),
            ("orphans", stats["orphans"]),
        ]
        if vg.errors:
            rows.append(("unreadable notes", len(vg.errors)))
        for label, value in rows:
            click.echo(f"{label:<20}{value:>8}")
        if stats["top_hubs"]:
            click.echo("top hubs (backlinks)")
            for hub in stats["top_hubs"]:
                click.echo(f"  {hub['backlinks']:>5}  {hub['path']}")
    if export_path:
        click.echo(f"wrote {export_path}", err=True)
    if vg.errors:
        sys.exit(1)
