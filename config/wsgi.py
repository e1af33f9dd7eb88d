import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from config.hotpath_wsgi import wrap  # noqa: E402  (needs the settings module set)

# Token-authenticated heartbeats are answered before Django's middleware (cpe/learning/hotpath.py);
# everything else goes to Django.
application = wrap(get_wsgi_application())
