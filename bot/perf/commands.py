"""`bot4 perf-manifest`: hardware, build, and measured latency of every hot-path stage."""

import click


@click.command("perf-manifest")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--out", type=click.Path(dir_okay=False), help="Also write the JSON to FILE.")
@click.option("--samples", type=click.IntRange(min=10_000), default=20_000, show_default=True,
              help="Latency samples per stage.")
def perf_manifest(as_json, out, samples):
    """Hardware, build, and hot-path latency percentiles (p50/p95/p99/p99.9)."""
    from bot.perf.manifest import build_manifest, render_text

    import json
    m = build_manifest(samples=samples)
    text = json.dumps(m, indent=2)
    if out:
        with open(out, "w") as f:
            f.write(text + "\n")
    click.echo(text if as_json else render_text(m))
