from django.shortcuts import render


def ratelimited(request, exception=None):
    """django-ratelimit's refusal: 429 with a Chinese explanation (not its default 403)."""
    if request.htmx:
        return render(
            request,
            "partials/message.html",
            {"level": "error", "text": "操作过于频繁，请稍后再试。"},
            status=429,
        )
    return render(request, "errors/429.html", status=429)


def home(request):
    return render(request, "home.html")
