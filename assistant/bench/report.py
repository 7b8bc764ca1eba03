"""The benchmark's table and its goals, from the numbers `run_bench` returns."""

from __future__ import annotations

GOAL_SLACK_MS = 150  # Kokoro: nothing but the end-of-turn wait and the first chunk's synthesis on the critical path


def _triple(stats: dict) -> str:
    if not stats or stats.get("p50") is None:
        return "n/a"
    return f"{stats['p50']:.0f} / {stats['p95']:.0f} / {stats['max']:.0f} (n={stats['n']})"


def table(results: dict) -> str:
    engines = results["engines"]
    names = list(engines)
    rows: list[tuple[str, list[str]]] = [
        ("voice-to-voice p50 / p95 / max ms", [_triple(engines[n]["voice_to_voice_ms"]) for n in names])]
    stage_names = {stage for n in names for stage in engines[n]["stages_after_speech_end_ms"]}
    for stage in ("end_of_turn", "stt_final", "llm_first_token", "first_chunk", "first_tts_chunk", "first_audio"):
        if stage in stage_names:
            rows.append((f"  {stage.replace('_', ' ')} (median, after speech end)",
                         [_ms(engines[n]["stages_after_speech_end_ms"].get(stage), "+") for n in names]))
    rows += [
        ("first chunk synthesis (median)", [_ms(engines[n]["first_chunk_synthesis_ms"]) for n in names]),
        ("stutter: gaps per reply / p95 gap / gaps > 150 ms",
         [f"{engines[n]['stutter']['gaps_per_reply']} / {engines[n]['stutter']['p95_gap_ms']:.0f} ms / "
          f"{engines[n]['stutter']['gaps_over_150_ms']}" for n in names]),
        ("barge-in, from the files p50 / p95 / max ms", [_triple(engines[n]["barge_in_ms"]) for n in names]),
        ("barge-in, pipeline p50 / p95 / max ms", [_triple(engines[n]["barge_in_pipeline_ms"]) for n in names]),
        ("event-loop stall max / p99", [f"{engines[n]['loop_stall_ms']['max']:.1f} / "
                                        f"{engines[n]['loop_stall_ms']['p99']:.1f} ms" for n in names]),
        ("STT word error rate", [f"{engines[n]['stt_wer'] * 100:.1f} %" for n in names]),
    ]
    if all("sequential" in engines[n] for n in names):
        rows += [("sequential baseline TTFA p50 / p95 / max ms",
                  [_triple(engines[n]["sequential"]["time_to_first_audio_ms"]) for n in names]),
                 ("sequential ÷ async (p50)", [f"{engines[n]['sequential_over_async']}×" for n in names])]
    process = results["process"]
    width = max(len(label) for label, _ in rows) + 2
    column = max(28, *(len(cell) + 2 for _, cells in rows for cell in cells))
    lines = [f"{'':{width}}" + "".join(f"{n:{column}}" for n in names)]
    lines += [f"{label:{width}}" + "".join(f"{cell:{column}}" for cell in cells) for label, cells in rows]
    lines += turn_lines(results.get("turn_taking"))
    lines += echo_lines(results.get("echo"))
    lines += load_lines(results.get("load"))
    lines += ["", f"idle CPU (always listening, quiet room): {process['idle_cpu_percent']} % of one core",
              f"launch → ready: {process['launch_to_ready_ms']:.0f} ms; peak RSS {process['peak_rss_mib']:.0f} MiB",
              f"machine: {results['machine']['cpus']} CPUs, {results['machine']['processor']}"]
    return "\n".join(lines)


def turn_lines(turns: dict | None) -> list[str]:
    """The turn-taking section: the end-of-turn model against the fixed hangover."""
    if not turns:
        return []
    lines = ["", "turn-taking (complete questions, and questions with a mid-sentence pause)"]
    for policy in ("silence", "smart"):
        row = turns[policy]
        premature = ", ".join(f"{bucket} ms {_share(rate['rate'])} (n={rate['n']})"
                              for bucket, rate in row["premature"].items())
        lines.append(f"  {policy:8} voice-to-voice {_triple(row['voice_to_voice_ms'])} ms; end-of-turn wait mean "
                     f"{_ms(row['end_of_turn_wait_ms']['mean'])}, max {_ms(row['end_of_turn_wait_ms']['max'])}; "
                     f"premature on pauses of {premature}")
    extra = turns["smart_extra_wait_ms"]
    lines.append(f"  smart − silence wait per complete question: mean {_ms(extra['mean'])}, "
                 f"{extra['questions_waiting_longer']} waiting longer; ended by {turns['smart']['decided_by']}; "
                 f"model CPU {turns['model_cpu_ms_per_decision']} ms per decision")
    return lines


def turn_goals(turns: dict | None) -> list[tuple[str, bool | None]]:
    if not turns:
        return []
    smart, silence = turns["smart"]["premature"], turns["silence"]["premature"]
    long_smart, long_silence = smart["500-900"]["rate"], silence["500-900"]["rate"]
    halved = None if long_smart is None or long_silence is None else long_smart <= long_silence / 2
    short = smart["300-500"]["rate"]
    longer = turns["smart_extra_wait_ms"]["questions_waiting_longer"]
    return [(f"premature end of turn on 500–900 ms pauses {_share(long_smart)} ≤ half the hangover's "
             f"{_share(long_silence)}", halved),
            (f"premature end of turn on 300–500 ms pauses {_share(short)} ≤ 10 %", _le(short, 0.10)),
            (f"complete questions waiting longer than with the hangover: {longer} = 0", longer == 0)]


def _share(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f} %"


def echo_lines(echo: dict | None) -> list[str]:
    """The echo section: synthesised rooms, the canceller on and off."""
    if not echo:
        return []
    lines = ["", "echo (synthesised laptop rooms; per minute of reply speech)"]
    for key, row in echo.items():
        if key.startswith("aec "):
            rates = ", ".join(f"{label} {_rate(row[key])}" for label, key in (
                ("false barge-ins", "false_barge_ins_per_min"), ("phantom turns", "phantom_turns_per_min"),
                ("soft pauses", "soft_pauses_per_min")))
            lines.append(f"  {key:24} {row['cut_off']}/{row['replies']} replies cut off by their own echo; {rates} "
                         f"({row['reply_speech_s']:.0f} s of reply speech)")
        elif key.startswith("double talk"):
            lines.append(f"  {key:24} cut-ins detected {row['detected']}, barge-in p50 / p95 / max "
                         f"{_triple(row['barge_in_ms'])} ms ({row['reply_not_playing']} came with no reply playing)")
    cpu = echo["aec_cpu"]
    lines.append(f"  canceller CPU: {cpu['per_frame_us']:.0f} µs per 10 ms frame "
                 f"({cpu['core_percent']:.2f} % of a core)")
    for state, row in echo["without_echo"].items():
        lines.append(f"  no echo, canceller {state:3}: voice-to-voice {_triple(row['voice_to_voice_ms'])} ms, "
                     f"STT WER {row['stt_wer'] * 100:.1f} %")
    return lines


def load_lines(load: dict | None) -> list[str]:
    """The load section: the same scenario idle and with busy processes, side by side."""
    if not load:
        return []
    spinners = load["loaded"]["spinners"]
    shares = ", ".join(f"{share * 100:.0f} %" for share in spinners["core_share"])
    lines = ["", f"under load ({spinners['count']} busy processes, nice {spinners['nice']}, each got {shares} of a "
                 "core)   idle  →  loaded"]
    for label, cells in (
            ("barge-in p50 / p95 / max ms", [_triple(load[s]["barge_in_ms"]) for s in ("idle", "loaded")]),
            ("barge-ins missed", [str(load[s]["barge_in_missed"]) for s in ("idle", "loaded")]),
            ("mic frames lost", [_lost(load[s]) for s in ("idle", "loaded")]),
            ("event-loop stall max / p99 ms", [f"{load[s]['loop_stall_ms']['max']:.1f} / "
                                               f"{load[s]['loop_stall_ms']['p99']:.1f}" for s in ("idle", "loaded")]),
            ("voice-to-voice p50 / p95 / max ms", [_triple(load[s]["voice_to_voice_ms"]) for s in ("idle", "loaded")]),
            ("stutter: gaps per reply / p95 gap / > 150 ms",
             [f"{load[s]['stutter']['gaps_per_reply']} / {load[s]['stutter']['p95_gap_ms']:.0f} ms / "
              f"{load[s]['stutter']['gaps_over_150_ms']}" for s in ("idle", "loaded")])):
        lines.append(f"  {label:46} {cells[0]:28} → {cells[1]}")
    ratio = load["voice_to_voice_ratio"]
    lines.append(f"  voice-to-voice loaded ÷ idle: p50 {ratio['p50']}×, p95 {ratio['p95']}×")
    return lines


def _lost(run: dict) -> str:
    return "not measured" if run["mic_frames_lost"] is None else f"{run['mic_frames_lost']} of {run['mic_blocks']}"


def load_goals(load: dict | None) -> list[tuple[str, bool | None]]:
    if not load:
        return []
    loaded = load["loaded"]
    p95, lost, stall = loaded["barge_in_ms"]["p95"], loaded["mic_frames_lost"], loaded["loop_stall_ms"]["max"]
    ratio = load["voice_to_voice_ratio"]["p50"]
    return [(f"under load: barge-in p95 {p95} ≤ 120 ms", _le(p95, 120)),
            (f"under load: mic frames lost {lost} = 0", None if lost is None else lost == 0),
            (f"under load: loop stall max {stall} ≤ 20 ms", _le(stall, 20)),
            (f"under load: voice-to-voice p50 {ratio}× the idle figure ≤ 1.5×", _le(ratio, 1.5))]


def _rate(per_minute: float | None) -> str:
    return "n/a" if per_minute is None else f"{per_minute:.2f}/min"


def _ms(value: float | None, sign: str = "") -> str:
    return "n/a" if value is None else f"{sign}{value:.0f} ms"


def goals(results: dict) -> list[tuple[str, bool | None]]:
    """Each goal of the latency issue, and whether this run met it (None: not measured in this run)."""
    checks: list[tuple[str, bool | None]] = []
    for name, engine in results["engines"].items():
        v2v = engine["voice_to_voice_ms"]
        if name == "piper":
            checks.append((f"piper voice-to-voice p50 {v2v['p50']} ≤ 350 ms", _le(v2v["p50"], 350)))
            checks.append((f"piper voice-to-voice p95 {v2v['p95']} ≤ 600 ms", _le(v2v["p95"], 600)))
        elif name == "kokoro" and engine["end_of_turn_wait_ms"] is not None and engine["first_chunk_synthesis_ms"]:
            limit = engine["end_of_turn_wait_ms"] + engine["first_chunk_synthesis_ms"] + GOAL_SLACK_MS
            checks.append((f"kokoro voice-to-voice p50 {v2v['p50']} ≤ end-of-turn wait + first-chunk synthesis "
                           f"+ {GOAL_SLACK_MS} = {limit:.0f} ms", _le(v2v["p50"], limit)))
        barge = engine["barge_in_ms"]
        checks.append((f"{name} barge-in p50 {barge['p50']} ≤ 80 ms", _le(barge["p50"], 80)))
        checks.append((f"{name} barge-in p95 {barge['p95']} ≤ 120 ms", _le(barge["p95"], 120)))
        stall = engine["loop_stall_ms"]
        checks.append((f"{name} loop stall max {stall['max']} ≤ 20 ms, p99 {stall['p99']} ≤ 5 ms",
                       stall["max"] <= 20 and stall["p99"] <= 5))
        if "sequential_over_async" in engine:
            ratio = engine["sequential_over_async"]
            checks.append((f"{name} sequential ÷ async time to first audio {ratio}× ≥ 3×", _ge(ratio, 3)))
    checks += turn_goals(results.get("turn_taking"))
    checks += echo_goals(results.get("echo"))
    checks += load_goals(results.get("load"))
    idle = results["process"]["idle_cpu_percent"]
    checks.append((f"idle CPU {idle} % ≤ 2 % of one core", _le(idle, 2)))
    return checks


def echo_goals(echo: dict | None) -> list[tuple[str, bool | None]]:
    if not echo:
        return []
    checks: list[tuple[str, bool | None]] = []
    for key, row in echo.items():
        if key.startswith("aec on"):
            rate = row["false_barge_ins_per_min"]
            checks.append((f"{key}: false barge-ins {rate}/min = 0", None if rate is None else rate == 0))
        elif key.startswith("double talk"):
            checks.append((f"{key}: cut-ins detected {row['detected']} ≥ 95 %", row["detected_share"] >= 0.95))
            p95 = row["barge_in_ms"]["p95"]
            checks.append((f"{key}: barge-in p95 {p95} ≤ 150 ms", _le(p95, 150)))
    cpu = echo["aec_cpu"]["core_percent"]
    checks.append((f"canceller CPU {cpu} % ≤ 3 % of one core", cpu <= 3))
    return checks


def _le(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _ge(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def goal_lines(results: dict) -> str:
    marks = {True: "met", False: "MISSED", None: "not measured"}
    return "\n".join(f"  [{marks[met]}] {text}" for text, met in goals(results))
