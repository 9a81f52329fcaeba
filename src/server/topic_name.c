/* Topic name validation, as Kafka's Topic.validate defines it. */
#include "server/topic_name.h"

#include <string.h>

static bool name_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

bool topic_is_internal(const char *name, size_t len)
{
	return name_is(name, len, "__consumer_offsets") || name_is(name, len, TRANSACTION_STATE_TOPIC);
}

const char *topic_name_problem(const char *name, size_t len)
{
	if (len == 0)
		return "Topic name is illegal, it can't be empty";
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return "Topic name cannot be \".\" or \"..\"";
	if (len > TOPIC_NAME_MAX_LEN)
		return "Topic name is illegal, it can't be longer than 249 characters";
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == '-';
		if (!ok)
			return "Topic name contains a character other than ASCII alphanumerics, '.', '_' and '-'";
	}
	return NULL;
}

bool topic_name_valid(const char *name, size_t len)
{
	return topic_name_problem(name, len) == NULL;
}

bool topic_names_collide(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i] == '.' ? '_' : a[i];
		char y = b[i] == '.' ? '_' : b[i];
		if (x != y)
			return false;
	}
	return true;
}
