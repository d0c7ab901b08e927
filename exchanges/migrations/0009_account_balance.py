import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("exchanges", "0007_operator_drills_and_account_prices"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountBalance",
            fields=[
                ("account", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True,
                                                 related_name="balance_snapshot", serialize=False,
                                                 to="exchanges.exchangeaccount")),
                ("holdings", models.JSONField(blank=True, default=list, help_text='[{"asset", "free", "used", "usd_price", "usd_value"}] as strings, most valuable first (exchanges.equity.Holding).')),
                ("equity_usd", models.DecimalField(blank=True, decimal_places=12, help_text="What the priced holdings were worth in USD.", max_digits=28, null=True)),
                ("unpriced_assets", models.JSONField(blank=True, default=list, help_text="Assets held but left out of the equity: no <asset>/USDT price.")),
                ("fetched_at", models.DateTimeField(blank=True, help_text="When the figures above were read.", null=True)),
                ("error", models.TextField(blank=True, help_text="Why the last refresh failed (empty when it succeeded).")),
                ("error_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
