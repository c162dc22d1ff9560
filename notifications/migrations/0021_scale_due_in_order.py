# The queue's index in the claim's own order (priority, next_attempt_at, id): a claim reads its batch
# off the index instead of sorting every pending row of a tie (issue 31, item 5).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0020_lean_inapp"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["priority", "next_attempt_at", "id"],
                name="delivery_due_in_order",
            ),
        ),
        migrations.RemoveIndex(
            model_name="delivery",
            name="delivery_due_by_priority",
        ),
    ]
