# Two commands do all the set-up on a fresh machine:
#   make run   - the platform at http://127.0.0.1:8000 (PORT overrides), embedded default
#   make test  - the whole test suite (PostgreSQL when DATABASE_URL is set, SQLite otherwise)
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
AIS_PORT ?= 8900
AIS_SIM_DB ?= var/ais_sim.sqlite3
# Every process `make run` starts (web, worker, checks) talks to the same simulator and
# builds the same public URLs.
export AIS_BASE_URL ?= http://127.0.0.1:$(AIS_PORT)
export SITE_URL ?= http://127.0.0.1:$(PORT)
# `make run CLOCK=2027-01-02T09:00:00+08:00`: the platform on another date (every process's wall
# clock moved by the same offset; local settings only).
ifdef CLOCK
export CPE_DEV_CLOCK_OFFSET := $(shell $(PY) -c "import datetime, time; print(datetime.datetime.fromisoformat('$(CLOCK)').timestamp() - time.time())")
endif
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test test-dates lint venv vendor sysdeps sysdeps-run migrate demo clean ais-sim

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

# Front-end files from the npm registry, copied into static/vendor (untracked).
static/vendor/hls.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	mkdir -p static/vendor && cp node_modules/hls.js/dist/hls.min.js static/vendor/

vendor: static/vendor/hls.min.js

migrate: venv vendor
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable

demo: sysdeps-run migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py make_demo_videos --seconds 30

# The platform, a Celery worker with the beat schedule (filesystem transport, or Redis when
# REDIS_URL is set: it then also flushes the learning hot path's watched time and sends the
# outbox) and the AIS simulator on loopback, seeded so that the demo learner is found.
run: demo
	@echo "平台地址：http://127.0.0.1:$(PORT)/  （管理后台 /admin/，开发者发件箱 /dev/outbox/，AIS 模拟器 127.0.0.1:$(AIS_PORT)）"
	@trap 'kill 0' EXIT; \
	$(BIN)/python -m ais_sim --host 127.0.0.1 --port $(AIS_PORT) --db $(AIS_SIM_DB) --seed demo & \
	$(BIN)/celery -A config worker -B -s var/celerybeat-schedule -P solo --loglevel=warning & \
	sleep 1; $(BIN)/python manage.py ais_check --username demo-learner; \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The AIS simulator alone (demo provider code and secret: .env.example).
ais-sim: venv
	$(BIN)/python -m ais_sim --host 127.0.0.1 --port $(AIS_PORT) --db $(AIS_SIM_DB) --seed demo

# Debian packages: `make test` needs a real browser, CJK fonts, ffmpeg and pdftotext; the platform
# itself needs ffmpeg (demo videos) and the CJK fonts (invoice and certificate PDFs). As root they are
# installed; otherwise the one command to run is printed (and `make run` stops: it cannot work
# without them, while the tests only skip the browser journeys).
define need_debs
	@missing=""; \
	for pkg in $(1); do case $$pkg in \
	  chromium) command -v chromium >/dev/null || missing="$$missing chromium";; \
	  fonts-noto-cjk) fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk";; \
	  ffmpeg) command -v ffmpeg >/dev/null || missing="$$missing ffmpeg";; \
	  poppler-utils) command -v pdftotext >/dev/null || missing="$$missing poppler-utils";; \
	  nginx) command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx";; \
	esac; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages:$$missing"; \
	    echo "Install them with: sudo apt-get install$$missing"; \
	    $(2) \
	  fi; \
	fi
endef

sysdeps:
	$(call need_debs,chromium fonts-noto-cjk ffmpeg poppler-utils,echo "(browser tests are skipped without chromium)";)

# `make run` installs the same packages as `make test` (so that a machine that only ever ran the
# platform can run the suite and the drills too); without root it stops only for the two the
# platform itself cannot do without.
sysdeps-run:
	$(call need_debs,chromium fonts-noto-cjk ffmpeg poppler-utils,true;)
	$(call need_debs,ffmpeg fonts-noto-cjk,exit 1;)

test: sysdeps venv vendor
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m pytest $(PYTEST_ARGS)

# Style and types (pyproject.toml): ruff's rules and format, the apps' layers (.importlinter),
# and mypy with django-stubs on every policy, services and selectors module. Stops at the
# first failure.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# The whole suite with the clock moved (time-machine: this process's wall clock and the AIS
# simulator's it starts; monotonic clocks, sleeps and the browser's timers stay real; PostgreSQL
# keeps its own clock, which the platform never reads). Not part of `make test`: it runs the suite
# once per date: 2027-01-02 09:00 (new year), 2027-03-31 23:59:59 and 2027-04-01 00:00:00 (the
# invoice cutoff), 2028-02-29 12:00 (leap day) and 2026-12-31 23:59:59, Shanghai time.
TEST_DATES ?= 2027-01-02T09:00:00+08:00 2027-03-31T23:59:59+08:00 2027-04-01T00:00:00+08:00 \
              2028-02-29T12:00:00+08:00 2026-12-31T23:59:59+08:00
test-dates: sysdeps venv vendor
	@mkdir -p var; status=0; for d in $(TEST_DATES); do \
	  echo "=== the suite with the clock at $$d"; \
	  CPE_TEST_CLOCK=$$d DJANGO_SETTINGS_MODULE=config.settings.test \
	    $(BIN)/python -m pytest $(PYTEST_ARGS) > var/test-dates-$$d.log 2>&1 || status=1; \
	  tail -n 12 var/test-dates-$$d.log; \
	done; exit $$status

clean:
	rm -rf $(VENV) var

# The production profile's drills (docs/deploy.md), not part of `make test`: the failure drill
# (as root: network namespaces, nginx; a few minutes) and the backup/restore drill.
.PHONY: drill restore-drill
drill: venv
	$(call need_debs,nginx,exit 1;)
	deploy/drill

restore-drill: venv
	deploy/restore-drill
