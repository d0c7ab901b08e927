# RiskConfig now belongs to trading (trading 0009): the risk app forgets it; the table stays.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('risk', '0004_close_before_open'),
        ('trading', '0009_riskconfig_from_risk'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='RiskConfig'),
            ],
        ),
    ]
