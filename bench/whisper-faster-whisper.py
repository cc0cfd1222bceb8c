"""
faster-whisper (CTranslate2 on the CPU) as a peer for bench/whisper.ts: reads one JSON request a
line on stdin and answers one JSON line on stdout. Run by bench/whisper.ts with
`--faster-whisper /path/to/venv/bin/python`; faster-whisper is never a Hearth dependency (install
it in a venv outside the repository: `python3 -m venv /work/venv-fw && /work/venv-fw/bin/pip
install faster-whisper`).

Decoding as Hearth does it: greedy (beam_size=1), temperature 0 only (no fallback), timestamps on,
no VAD, no no-speech skipping, previous text as the prompt, English.

Requests:
  {"model": dir, "threads": n}                      -> {"ready": true, "versions": {...}, "threads": n}
  {"wav": path}                                     -> {"text", "segments", "seconds"} from the WAV, decoded by PyAV
  {"samples": path}                                 -> the same from raw float32 16 kHz samples (Hearth's own decoding)
  {"samples": path, "mel": path, "frames": n}       -> adds "mel_max_abs_diff": Hearth's log-mel window
                                                       (frame-major [frames, 80]) against faster-whisper's
                                                       FeatureExtractor on the same samples, over the first n frames
"""
import json
import sys
import time

import numpy as np
import ctranslate2
import faster_whisper
from faster_whisper import WhisperModel
from faster_whisper.feature_extractor import FeatureExtractor

model = None


def transcribe(audio):
    t0 = time.perf_counter()
    segments, info = model.transcribe(
        audio,
        language="en",
        beam_size=1,
        best_of=1,
        temperature=0.0,
        compression_ratio_threshold=None,
        log_prob_threshold=None,
        no_speech_threshold=None,
        condition_on_previous_text=True,
        without_timestamps=False,
        vad_filter=False,
        word_timestamps=False,
    )
    segs = [
        {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text, "tokens": list(s.tokens)}
        for s in segments  # a generator: the work happens here
    ]
    seconds = time.perf_counter() - t0
    return {"text": "".join(s["text"] for s in segs), "segments": segs, "seconds": seconds, "duration": info.duration}


for line in sys.stdin:
    req = json.loads(line)
    if "model" in req:
        threads = int(req.get("threads", 2))
        model = WhisperModel(req["model"], device="cpu", compute_type="float32", cpu_threads=threads, num_workers=1)
        out = {"ready": True, "threads": threads, "versions": {"faster_whisper": faster_whisper.__version__, "ctranslate2": ctranslate2.__version__}}
    elif "wav" in req:
        out = transcribe(req["wav"])
    else:
        samples = np.fromfile(req["samples"], dtype=np.float32)
        out = transcribe(samples)
        if "mel" in req:
            n = int(req["frames"])
            ours = np.fromfile(req["mel"], dtype=np.float32).reshape(-1, 80).T  # [80, frames]
            # whisper's log_mel_spectrogram(audio, padding=N_SAMPLES): 30 s of zeros appended, as Hearth does
            theirs = FeatureExtractor(feature_size=80)(samples, padding=480000)
            out["mel_max_abs_diff"] = float(np.abs(ours[:, :n] - theirs[:, :n]).max())
    print(json.dumps(out), flush=True)
