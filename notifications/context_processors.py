from django.conf import settings


def site(request):
    """Expose the site's name to every page."""
    return {"site_name": settings.SITE_NAME}
