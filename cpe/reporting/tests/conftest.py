"""The reporting tests' fixtures: the AIS simulator (`cpe/reporting/tests/simulator.py`) started
once per session and reset before each test that asks for it, the platform's adapter pointed
at it, and an export run over a learner's credit record."""

from pathlib import Path

import pytest
from django.utils import timezone

from .simulator import TEST_PROVIDER, TEST_SECRET, start_simulator, stop_simulator


@pytest.fixture(scope="session")
def ais_sim_server(tmp_path_factory):
    sim = start_simulator(tmp_path_factory.mktemp("ais_sim"))
    yield sim
    stop_simulator(sim)


@pytest.fixture
def ais_sim(ais_sim_server):
    """A simulator with an empty store and no faults."""
    ais_sim_server.reset()
    yield ais_sim_server
    ais_sim_server.admin("DELETE", "/_sim/faults")


@pytest.fixture
def ais_settings(settings, ais_sim):
    """Point the platform's adapter (get_client) at the test simulator."""
    settings.AIS_BASE_URL = ais_sim.url
    settings.AIS_PROVIDER_CODE = TEST_PROVIDER
    settings.AIS_SECRET = TEST_SECRET
    settings.AIS_TIMEOUT = (2, 5)
    settings.AIS_MAX_RETRIES = 2
    settings.AIS_BACKOFF_BASE = 0.01
    settings.AIS_BACKOFF_CAP = 0.05
    return settings


@pytest.fixture
def roots(settings, tmp_path):
    """MEDIA_ROOT and EXPORT_ROOT in the test's temporary directory."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EXPORT_ROOT = str(tmp_path / "private" / "exports")
    return Path(settings.MEDIA_ROOT), Path(settings.EXPORT_ROOT)


@pytest.fixture
def done_job(roots, register_learner, year):
    """A finished export of 2026 holding one learner's (张甲, Hohhot) record of P1."""
    from cpe.credits.tests.factories import make_record
    from cpe.reporting.models import ExportJob
    from cpe.reporting.services import export_run
    from cpe.reporting.states import ExportStatus

    learner = register_learner(name="张甲", region="150100")
    make_record(learner, year, "P1")
    job = ExportJob.objects.create(year=2026, created_at=timezone.now())
    job = export_run(job_id=job.pk)
    assert job.status == ExportStatus.DONE
    return job, learner
