# One bucket, the zones as prefixes: the pipeline is configured by a single store URL
# (s3://<bucket>/<prefix>) and pipelines/layout.py derives every key below it, exactly as in a local
# directory. Separate buckets would buy nothing the prefix-scoped policies and lifecycle rules below do
# not already give, and would need a second URL.

locals {
  root = var.key_prefix == "" ? "" : "${trimsuffix(var.key_prefix, "/")}/"

  # The zones of pipelines/layout.py.
  prefixes = {
    raw       = "${local.root}raw/"
    clean     = "${local.root}clean/"
    rejects   = "${local.root}rejects/"
    state     = "${local.root}state/"
    manifests = "${local.root}manifests/"
  }

  bucket_arn  = aws_s3_bucket.store.arn
  objects_arn = "${aws_s3_bucket.store.arn}/${local.root}*"
}

resource "aws_s3_bucket" "store" {
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
}

# ACLs off: access is decided by policies alone.
resource "aws_s3_bucket_ownership_controls" "store" {
  bucket = aws_s3_bucket.store.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "store" {
  bucket                  = aws_s3_bucket.store.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# Versioning turns an overwrite or delete into a recoverable noncurrent version; write-once keys are
# never overwritten by the pipeline, so for them it costs nothing.
resource "aws_s3_bucket_versioning" "store" {
  bucket = aws_s3_bucket.store.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "store" {
  bucket = aws_s3_bucket.store.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # A bucket key cuts KMS requests (and their cost) by orders of magnitude.
    bucket_key_enabled = var.kms_key_arn != null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "store" {
  bucket = aws_s3_bucket.store.id

  # Rules on noncurrent versions need versioning in place first.
  depends_on = [aws_s3_bucket_versioning.store]

  rule {
    id     = "bucket-hygiene"
    status = "Enabled"

    filter {
      prefix = local.root
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    expiration {
      expired_object_delete_marker = true
    }
  }

  # Raw WARCs are read again only for backfills (re-cleaning with better rules). Clean documents stay in
  # STANDARD: downstream readers read them all the time.
  rule {
    id     = "raw-to-archive"
    status = "Enabled"

    filter {
      prefix = local.prefixes.raw
    }

    transition {
      days          = var.raw_glacier_ir_days
      storage_class = "GLACIER_IR"
    }

    dynamic "transition" {
      for_each = var.raw_deep_archive_days == null ? [] : [var.raw_deep_archive_days]

      content {
        days          = transition.value
        storage_class = "DEEP_ARCHIVE"
      }
    }
  }

  dynamic "rule" {
    for_each = var.rejects_expiration_days == null ? [] : [var.rejects_expiration_days]

    content {
      id     = "expire-rejects"
      status = "Enabled"

      filter {
        prefix = local.prefixes.rejects
      }

      expiration {
        days = rule.value
      }
    }
  }

  lifecycle {
    precondition {
      # GLACIER_IR bills at least 90 days per object; moving on earlier pays for days not used.
      condition     = var.raw_deep_archive_days == null || coalesce(var.raw_deep_archive_days, 0) >= var.raw_glacier_ir_days + 90
      error_message = "raw_deep_archive_days must be at least raw_glacier_ir_days + 90 (or null)."
    }
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket_arn,
      "${local.bucket_arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyOutdatedTLS"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      local.bucket_arn,
      "${local.bucket_arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }

  # Write-once enforced by S3 itself: a PUT or CompleteMultipartUpload on these keys must carry
  # If-None-Match. s3:ObjectCreationOperation exempts CreateMultipartUpload and UploadPart, which cannot
  # carry the header.
  dynamic "statement" {
    for_each = var.enforce_conditional_writes ? [1] : []

    content {
      sid     = "DenyUnconditionalWritesToWriteOnceKeys"
      effect  = "Deny"
      actions = ["s3:PutObject"]
      resources = [
        "${local.bucket_arn}/${local.prefixes.clean}v*/docs/*",
        "${local.bucket_arn}/${local.prefixes.clean}v*/aliases/*",
        "${local.bucket_arn}/${local.prefixes.clean}v*/schema/*",
      ]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = "Null"
        variable = "s3:if-none-match"
        values   = ["true"]
      }

      condition {
        test     = "Bool"
        variable = "s3:ObjectCreationOperation"
        values   = ["true"]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "store" {
  bucket = aws_s3_bucket.store.id
  policy = data.aws_iam_policy_document.bucket.json

  # S3 rejects a policy while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.store]
}
