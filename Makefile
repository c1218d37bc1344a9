# Two entry points for a fresh clone: `make demo` and `make test`. Both set up what they need
# (idempotent: a stamp file per venv, redone only when its requirements change).
PYTHON ?= python3
VENV   := .venv
LSVENV := .venv-ls
STAMP   := $(VENV)/.mmrakit-installed
LSSTAMP := $(LSVENV)/.label-studio-installed
PYTEST_ARGS ?=

export MMRAKIT_LABEL_STUDIO_BIN := $(CURDIR)/$(LSVENV)/bin/label-studio
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup test demo demo-panels bench docs clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[test,ray]'
	touch $@

$(LSSTAMP): constraints-labelstudio.txt
	test -x $(LSVENV)/bin/python || $(PYTHON) -m venv $(LSVENV)
	$(LSVENV)/bin/python -m pip install -q -c constraints-labelstudio.txt label-studio
	touch $@

setup: $(STAMP) $(LSSTAMP)

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/mmrakit run demo/pipeline.toml $(if $(CLIP_CHECKPOINT),--clip-checkpoint $(CLIP_CHECKPOINT))

bench: setup
	$(VENV)/bin/python -m benchmarks.run_all

# the demo with model panels that call models: a scripted OpenAI-compatible server stands in for them
demo-panels: setup
	$(VENV)/bin/python demo/panels_demo.py

docs: $(STAMP)
	$(VENV)/bin/mmrakit config --reference > docs/configuration.md

clean:
	rm -rf $(VENV) $(LSVENV) demo-workspace demo-workspace-panels .pytest_cache
