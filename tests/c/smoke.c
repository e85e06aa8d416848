/* A real C consumer of include/cowork_ecs.h: every export, the ownership
 * rules, and the error paths. Built and run by `make test-c` under ASan/UBSan.
 * Usage: smoke <protobuf ExportLogsServiceRequest file with Claude records> */
#include "cowork_ecs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0, checks = 0;
#define CHECK(cond, ...)                                                   \
  do {                                                                     \
    checks++;                                                              \
    if (!(cond)) {                                                         \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                 \
      fprintf(stderr, __VA_ARGS__);                                        \
      fputc('\n', stderr);                                                 \
      failures++;                                                          \
    }                                                                      \
  } while (0)

static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s logs.pb\n", argv[0]); return 2; }
  size_t in_len = 0;
  unsigned char *in = read_file(argv[1], &in_len);
  if (!in) { perror(argv[1]); return 2; }

  CHECK(strlen(cowork_ecs_version()) > 0, "version");
  cowork_ecs_limits limits = cowork_ecs_transform_limits();
  CHECK(limits.max_field_depth == 20 && limits.max_fields == 1000 && limits.attribute_prefix_depth == 2, "limits");
  CHECK(strcmp(cowork_ecs_mapping_mode_attribute(), "elastic.mapping.mode") == 0, "mapping mode attribute");

  cowork_ecs_buf err = {NULL, 0};
  const char *bad = "{\"namespace\":\"Not-Valid\"}";
  CHECK(cowork_ecs_config_validate((const uint8_t *)bad, strlen(bad), &err) == COWORK_ECS_RESULT_CONFIG_INVALID,
        "bad config refused");
  CHECK(err.data != NULL && err.len > 0, "error message returned");
  cowork_ecs_buf_free(err);

  const cowork_ecs_transformer *t = NULL;
  CHECK(cowork_ecs_transformer_new(NULL, 0, &t, NULL) == COWORK_ECS_RESULT_OK && t != NULL, "new with defaults");

  cowork_ecs_buf out = {NULL, 0};
  err = (cowork_ecs_buf){NULL, 0};
  CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_LOGS, NULL, 0, in, in_len, &out, &err) == COWORK_ECS_RESULT_OK, "transform");
  CHECK(out.data != NULL && out.len > in_len, "output is the normalized batch (%zu -> %zu bytes)", in_len, out.len);
  CHECK(err.data == NULL, "err_out untouched on success");
  /* The output must contain ECS field names. */
  int found = 0;
  for (size_t i = 0; out.data && i + 11 <= out.len; i++)
    if (memcmp(out.data + i, "ecs.version", 11) == 0) { found = 1; break; }
  CHECK(found, "output holds ecs.version");
  /* The design's logs entry point gives the same bytes. */
  cowork_ecs_buf logs_out = {NULL, 0};
  CHECK(cowork_ecs_transform_logs(t, NULL, 0, in, in_len, &logs_out, NULL) == COWORK_ECS_RESULT_OK, "transform_logs");
  CHECK(logs_out.len == out.len && memcmp(logs_out.data, out.data, out.len) == 0, "transform_logs == transform(LOGS)");
  cowork_ecs_buf_free(logs_out);
  CHECK(cowork_ecs_transform_logs(NULL, NULL, 0, in, in_len, &logs_out, NULL) == COWORK_ECS_RESULT_NULL_PARAMETER,
        "transform_logs NULL handle");
  cowork_ecs_buf_free(out);

  /* Truncated input: a decode error with a message, no output. */
  out = (cowork_ecs_buf){NULL, 0};
  CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_LOGS, NULL, 0, in, in_len / 2, &out, &err) == COWORK_ECS_RESULT_DECODE, "decode error");
  CHECK(out.data == NULL, "no output on error");
  CHECK(err.data != NULL, "message on error");
  cowork_ecs_buf_free(err);

  /* (NULL, 0) is an empty batch; (NULL, n) is refused. */
  CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_LOGS, NULL, 0, NULL, 0, &out, NULL) == COWORK_ECS_RESULT_UNCHANGED, "empty batch");
  CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_LOGS, NULL, 0, NULL, 3, &out, NULL) == COWORK_ECS_RESULT_NULL_PARAMETER, "NULL input");
  CHECK(cowork_ecs_transform(NULL, COWORK_ECS_SIGNAL_LOGS, NULL, 0, in, in_len, &out, NULL) == COWORK_ECS_RESULT_NULL_PARAMETER, "NULL handle");

  /* Traces and metrics: the same conventions ((NULL, 0) tenant: none). */
  CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_TRACES, NULL, 0, NULL, 0, &out, NULL) == COWORK_ECS_RESULT_UNCHANGED, "empty traces");
  CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_METRICS, NULL, 0, NULL, 0, &out, NULL) == COWORK_ECS_RESULT_UNCHANGED, "empty metrics");
  CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_TRACES, NULL, 0, NULL, 3, &out, NULL) == COWORK_ECS_RESULT_NULL_PARAMETER, "NULL traces input");
  CHECK(cowork_ecs_transform(NULL, COWORK_ECS_SIGNAL_METRICS, NULL, 0, NULL, 0, &out, NULL) == COWORK_ECS_RESULT_NULL_PARAMETER, "NULL handle (metrics)");
  {
    const unsigned char garbage[] = {0xff, 0xff, 0xff, 0xff};
    cowork_ecs_buf e = {NULL, 0};
    CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_TRACES, NULL, 0, garbage, sizeof garbage, &out, &e) == COWORK_ECS_RESULT_DECODE, "garbage traces");
    CHECK(e.data != NULL && e.len > 0, "decode error message");
    cowork_ecs_buf_free(e);
  }
  /* A signal the ABI does not have, a tenant that is not UTF-8: invalid arguments. */
  CHECK(cowork_ecs_transform(t, 42, NULL, 0, in, in_len, &out, NULL) == COWORK_ECS_RESULT_INVALID_ARGUMENT, "unknown signal");
  {
    const unsigned char tenant[] = {0xff, 0xfe};
    CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_LOGS, tenant, sizeof tenant, in, in_len, &out, NULL) ==
              COWORK_ECS_RESULT_INVALID_ARGUMENT, "tenant not UTF-8");
  }
  /* An unreadable resource after the capture's: PARTIAL, output and message. */
  {
    const unsigned char bad_resource[] = {0x0a, 0x04, 0x0a, 0x02, 0x0f, 0x01};
    uint8_t *partial = malloc(in_len + sizeof bad_resource);
    memcpy(partial, in, in_len);
    memcpy(partial + in_len, bad_resource, sizeof bad_resource);
    cowork_ecs_buf e = {NULL, 0};
    out = (cowork_ecs_buf){NULL, 0};
    CHECK(cowork_ecs_transform(t, COWORK_ECS_SIGNAL_LOGS, NULL, 0, partial, in_len + sizeof bad_resource, &out, &e) ==
              COWORK_ECS_RESULT_PARTIAL, "partial");
    CHECK(out.data != NULL && out.len > in_len, "partial output");
    CHECK(e.data != NULL && e.len > 0, "partial report");
    cowork_ecs_buf_free(out);
    cowork_ecs_buf_free(e);
    free(partial);
  }

  cowork_ecs_transformer_free(t);
  cowork_ecs_transformer_free(NULL);
  cowork_ecs_buf_free((cowork_ecs_buf){NULL, 0});
  free(in);

  printf("c-smoke: %d passed, %d failed\n", checks - failures, failures);
  return failures == 0 ? 0 : 1;
}
