"""Read queries of the jobs app."""

from django.db.models import QuerySet

from jobs.models import Job


def jobs_of(user) -> QuerySet[Job]:
    """The trader's own jobs: every lookup by id goes through here, so another trader's id is a 404."""
    return Job.objects.filter(user=user)
