"""The JSON API (django-ninja, OpenAPI 3.1 at /api/docs). Each app adds its router here."""
from ninja import NinjaAPI

from cpe.learning.api import router as learning_router

api = NinjaAPI(title="内蒙古会计人员继续教育平台 API", version="1", urls_namespace="api")
api.add_router("/learning/", learning_router)
