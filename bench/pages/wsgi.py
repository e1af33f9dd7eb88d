import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.pages.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from config.hotpath_wsgi import wrap  # noqa: E402

application = wrap(get_wsgi_application())  # as production mounts it
