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
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test venv vendor sysdeps migrate demo clean ais-sim

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

demo: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py make_demo_videos --seconds 30

# The platform, a Celery worker (filesystem transport unless REDIS_URL is set) and the AIS
# simulator on loopback, seeded so that the demo learner is found.
run: demo
	@echo "平台地址：http://127.0.0.1:$(PORT)/  （管理后台 /admin/，开发者发件箱 /dev/outbox/，AIS 模拟器 127.0.0.1:$(AIS_PORT)）"
	@trap 'kill 0' EXIT; \
	$(BIN)/python -m ais_sim --host 127.0.0.1 --port $(AIS_PORT) --db $(AIS_SIM_DB) --seed demo & \
	if [ -z "$$REDIS_URL" ]; then $(BIN)/celery -A config worker -B -s var/celerybeat-schedule -P solo --loglevel=warning & fi; \
	sleep 1; $(BIN)/python manage.py ais_check --username demo-learner; \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The AIS simulator alone (demo provider code and secret: .env.example).
ais-sim: venv
	$(BIN)/python -m ais_sim --host 127.0.0.1 --port $(AIS_PORT) --db $(AIS_SIM_DB) --seed demo

# Debian packages the tests use: a real browser, CJK fonts, ffmpeg, pdftotext.
SYSPKGS := chromium fonts-noto-cjk ffmpeg poppler-utils
sysdeps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$$missing fonts-noto-cjk"; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages:$$missing"; \
	    echo "Install them with: sudo apt-get install$$missing   (browser tests are skipped without chromium)"; \
	  fi; \
	fi

test: sysdeps venv vendor
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var
