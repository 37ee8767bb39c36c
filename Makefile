# Two commands do everything on a fresh machine:
#   make run    set up .venv if needed and start VisionStudio
#   make test   set up .venv with test tools if needed and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
export VENV

.PHONY: run test setup setup-dev bench screenshots clean-venv

run: setup
	$(VENV)/bin/python -m visionstudio $(ARGS)

test: setup-dev
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

setup:
	$(PYTHON) packaging/bootstrap.py

setup-dev:
	$(PYTHON) packaging/bootstrap.py --dev

bench: setup-dev
	$(VENV)/bin/python benchmarks/shape_inference.py
	$(VENV)/bin/python benchmarks/startup.py
	$(VENV)/bin/python benchmarks/train_throughput.py
	$(VENV)/bin/python benchmarks/gui_training.py
	$(VENV)/bin/python benchmarks/plot_refresh.py
	$(VENV)/bin/python benchmarks/feature_maps.py
	$(VENV)/bin/python benchmarks/big_networks.py
	$(VENV)/bin/python benchmarks/memory_estimate.py
	$(VENV)/bin/python benchmarks/image_folder.py
	$(VENV)/bin/python benchmarks/gpu_suite.py
	$(VENV)/bin/python benchmarks/fuzz_projects.py
	$(VENV)/bin/python benchmarks/hostile_runs.py
	$(VENV)/bin/python benchmarks/kill_save.py

# docs/screenshots/*.png, light and dark (offscreen: no display needed)
screenshots: setup
	$(VENV)/bin/python docs/make_screenshots.py

clean-venv:
	rm -rf $(VENV)
