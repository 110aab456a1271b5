"""Pure cleaning functions: bytes and strings in, values out. No Scrapy, boto3 or Prefect here."""

from cleaning.clean import clean_page
from cleaning.config import CLEANING_VERSION, DEFAULT_CONFIG, CleaningConfig
from cleaning.normalize import content_sha256, normalize_text
from cleaning.records import SCHEMA_VERSION, CleanDocument, RawPage, Rejected, RejectReason
from cleaning.repair import repair_text, repair_text_explained

__all__ = [
    "CLEANING_VERSION",
    "DEFAULT_CONFIG",
    "SCHEMA_VERSION",
    "CleanDocument",
    "CleaningConfig",
    "RawPage",
    "RejectReason",
    "Rejected",
    "clean_page",
    "content_sha256",
    "normalize_text",
    "repair_text",
    "repair_text_explained",
]
