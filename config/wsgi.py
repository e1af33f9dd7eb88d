import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from config.hotpath_wsgi import wrap  # noqa: E402  (needs the settings module set)
from config.ops_wsgi import wrap as ops_wrap  # noqa: E402

# Outermost: request ids, metrics and the health/metrics paths (config/ops_wsgi.py). Then
# token-authenticated heartbeats, answered before Django's middleware (cpe/learning/hotpath.py);
# everything else goes to Django.
application = ops_wrap(wrap(get_wsgi_application()))
