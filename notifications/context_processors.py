from django.conf import settings
from django.utils.functional import SimpleLazyObject

from .services.inapp import get_unread_notification_count


def site(request):
    """Expose the site's name to every page."""
    # Django's auth views put the request's domain in `site_name`; `site_title` stays ours.
    return {"site_name": settings.SITE_NAME, "site_title": settings.SITE_NAME}


def unread_notifications(request):
    """Expose the signed-in person's unread count for the header badge (0 for visitors)."""

    def count() -> int:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        return get_unread_notification_count(user=user)

    # Lazy: pages that show no badge (the admin, for one) pay no query.
    return {"unread_notification_count": SimpleLazyObject(count)}
