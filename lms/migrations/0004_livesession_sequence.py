from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("lms", "0003_user_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="livesession",
            name="sequence",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
    ]
