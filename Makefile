# Two commands matter: `make demo` (set-up + main job) and `make test` (the suite CI runs).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
XVFB   := xvfb-run -a -s "-screen 0 1400x900x24"
OUT    := out

.PHONY: setup system-deps demo test bench clean slicer-wheel

# Debian packages napari needs to open a window (real or virtual); skipped when present.
system-deps:
	@command -v xvfb-run >/dev/null && dpkg -s libxcb-icccm4 libxcb-keysyms1 >/dev/null 2>&1 || \
	  { echo "make: installing the Debian packages napari needs (Xvfb, xcb, GL; about 30 s)..." && \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxkbcommon-x11-0 libxcb-cursor0 \
	      libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-shape0 \
	      libgl1 libegl1 libfontconfig1 libdbus-1-3 >/dev/null; }

$(VENV)/.installed: pyproject.toml
	@echo "make: creating $(VENV) and installing medmask with napari (about 1 GB, 1-3 minutes; pip lists each package)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install --progress-bar on -e ".[napari,test]"
	@echo "make: $(VENV) ready"
	touch $@

setup: system-deps $(VENV)/.installed

# Convert a phantom archive (NIfTI, Slicer round trips), then show the bundled real CT with its
# organs in napari with the MedMask dock; with no display, save a screenshot to out/demo.png instead.
demo: setup
	@if [ -n "$$DISPLAY" ]; then $(PY) -m napari_medmask.demo --out $(OUT); \
	 else $(XVFB) $(PY) -m napari_medmask.demo --out $(OUT) --screenshot $(OUT)/demo.png; fi

test: setup
	QT_API=pyqt6 $(XVFB) $(PY) -m pytest -p no:xvfb -q

bench: setup
	$(PY) benchmarks/bench_format.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache

# The wheel the 3D Slicer module installs into Slicer's Python (slicer/MedMask/wheels/).
slicer-wheel:
	rm -rf slicer/MedMask/wheels && $(PY) -m pip wheel -q --no-deps -w slicer/MedMask/wheels .
