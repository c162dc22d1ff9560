"""Pages in the signed-in person's language (their `language`), else as LocaleMiddleware chose."""

from django.conf import settings
from django.utils import translation


class UserLanguageMiddleware:
    """Activate the signed-in user's language for the request, when the pages are translated to it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.translated = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language in self.translated:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
