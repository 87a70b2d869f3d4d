//  test_turn - the coturn REST-API credentials and the ICE server list
//  handed to browsers (common/turn.h), checked against credentials
//  computed independently with the openssl command line.

#include <check.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "turn.h"
#include "check_main.h"

#define SID "0123456789abcdef0123456789abcdef"

//  Reference: computed outside megle with
//    printf '%s' '1700000000:0123456789abcdef0123456789abcdef' |
//      openssl dgst -sha1 -hmac 'megle-test-secret' -binary | base64
#define REF_SECRET     "megle-test-secret"
#define REF_EXPIRY     1700000000u
#define REF_CREDENTIAL "cTHbTm2lZIwlQLRgcOrSgkAFCEM="
//    printf '%s' '86400:x' | openssl dgst -sha1 -hmac 'k' -binary | base64
#define REF2_CREDENTIAL "gHO6qFY4RWx5aY+nE2uJrizq0P0="

START_TEST (test_credential_reference)
{
    char username[96], credential[TURN_CREDENTIAL_LEN + 1];
    ck_assert_int_eq (turn_credential (REF_SECRET, REF_EXPIRY, SID, username,
                                       sizeof username, credential,
                                       sizeof credential),
                      0);
    ck_assert_str_eq (username, "1700000000:" SID);
    ck_assert_str_eq (credential, REF_CREDENTIAL);
    ck_assert_int_eq (turn_credential ("k", 86400, "x", username,
                                       sizeof username, credential,
                                       sizeof credential),
                      0);
    ck_assert_str_eq (username, "86400:x");
    ck_assert_str_eq (credential, REF2_CREDENTIAL);
}
END_TEST

START_TEST (test_credential_small_buffers)
{
    char username[8], credential[TURN_CREDENTIAL_LEN + 1];
    ck_assert_int_eq (turn_credential ("k", 1700000000, SID, username,
                                       sizeof username, credential,
                                       sizeof credential),
                      -1);
    char big[96], small[TURN_CREDENTIAL_LEN];
    ck_assert_int_eq (
        turn_credential ("k", 1, "x", big, sizeof big, small, sizeof small),
        -1);
}
END_TEST

START_TEST (test_urls_check)
{
    char why[128];
    ck_assert_int_eq (turn_urls_check ("", false, why, sizeof why), 0);
    ck_assert_int_eq (turn_urls_check ("  ", true, why, sizeof why), 0);
    ck_assert_int_eq (
        turn_urls_check ("stun:stun.example.org:3478", false, why, sizeof why),
        0);
    ck_assert_int_eq (turn_urls_check ("turn:t.example.org:3478?transport=udp, "
                                       "turns:t.example.org:5349?transport=tcp",
                                       true, why, sizeof why),
                      0);
    //  wrong scheme for the list, empty item, blank or quote inside
    ck_assert_int_eq (turn_urls_check ("turn:x", false, why, sizeof why), -1);
    ck_assert_int_eq (turn_urls_check ("stun:x", true, why, sizeof why), -1);
    ck_assert_int_eq (
        turn_urls_check ("stun:a,,stun:b", false, why, sizeof why), -1);
    ck_assert_int_eq (turn_urls_check ("stun:a,", false, why, sizeof why), -1);
    ck_assert_int_eq (turn_urls_check ("stun:a b", false, why, sizeof why), -1);
    ck_assert_int_eq (turn_urls_check ("stun:\"a", false, why, sizeof why), -1);
    ck_assert_int_eq (turn_urls_check ("stun:", false, why, sizeof why), -1);
    ck_assert_ptr_nonnull (strstr (why, "stun:"));
    char many[512] = "";
    for (int i = 0; i <= TURN_URLS_MAX; i++)
        strcat (many, i ? ",stun:a" : "stun:a");
    ck_assert_int_eq (turn_urls_check (many, false, why, sizeof why), -1);
    ck_assert_ptr_null (turn_new (many, "", "", 60));
    ck_assert_ptr_null (turn_new ("stun:a", "stun:b", "s", 60));
}
END_TEST

START_TEST (test_ice_servers_none)
{
    turn_t *turn = turn_new ("", "", "", 86400);
    ck_assert_ptr_nonnull (turn);
    ck_assert (!turn_enabled (turn));
    size_t len = 0;
    char *json = turn_ice_servers (turn, SID, 1000, &len);
    ck_assert_str_eq (json, "[]");
    ck_assert_uint_eq (len, 2);
    free (json);
    turn_destroy (&turn);
    ck_assert_ptr_null (turn);
    turn_destroy (&turn);
}
END_TEST

START_TEST (test_ice_servers_urls_without_secret)
{
    //  TURN URLs without a secret: no TURN entry (credentials impossible),
    //  STUN still handed out.
    turn_t *turn = turn_new ("stun:s:3478", "turn:t:3478", "", 600);
    ck_assert (!turn_enabled (turn));
    char *json = turn_ice_servers (turn, SID, 1000, NULL);
    ck_assert_str_eq (json, "[{\"urls\":[\"stun:s:3478\"]}]");
    free (json);
    turn_destroy (&turn);
    //  a secret without URLs: nothing either
    turn = turn_new ("", "", "secret", 600);
    ck_assert (!turn_enabled (turn));
    json = turn_ice_servers (turn, SID, 1000, NULL);
    ck_assert_str_eq (json, "[]");
    free (json);
    turn_destroy (&turn);
}
END_TEST

START_TEST (test_ice_servers_turn)
{
    turn_t *turn =
        turn_new (" stun:s1:3478 , stun:s2:3478",
                  "turn:t:3478?transport=udp,turn:t:3478?transport=tcp",
                  REF_SECRET, 86400);
    ck_assert (turn_enabled (turn));
    size_t len = 0;
    char *json = turn_ice_servers (turn, SID, REF_EXPIRY - 86400, &len);
    ck_assert_uint_eq (strlen (json), len);
    cJSON *root = cJSON_Parse (json);
    ck_assert (cJSON_IsArray (root));
    ck_assert_int_eq (cJSON_GetArraySize (root), 2);

    const cJSON *stun = cJSON_GetArrayItem (root, 0);
    const cJSON *urls = cJSON_GetObjectItemCaseSensitive (stun, "urls");
    ck_assert_int_eq (cJSON_GetArraySize (urls), 2);
    ck_assert_str_eq (cJSON_GetArrayItem (urls, 0)->valuestring,
                      "stun:s1:3478");
    ck_assert_str_eq (cJSON_GetArrayItem (urls, 1)->valuestring,
                      "stun:s2:3478");
    ck_assert_ptr_null (cJSON_GetObjectItemCaseSensitive (stun, "username"));

    const cJSON *relay = cJSON_GetArrayItem (root, 1);
    urls = cJSON_GetObjectItemCaseSensitive (relay, "urls");
    ck_assert_int_eq (cJSON_GetArraySize (urls), 2);
    ck_assert_str_eq (cJSON_GetArrayItem (urls, 1)->valuestring,
                      "turn:t:3478?transport=tcp");
    ck_assert_str_eq (
        cJSON_GetObjectItemCaseSensitive (relay, "username")->valuestring,
        "1700000000:" SID);
    ck_assert_str_eq (
        cJSON_GetObjectItemCaseSensitive (relay, "credential")->valuestring,
        REF_CREDENTIAL);
    //  the secret never appears in what the browser gets
    ck_assert_ptr_null (strstr (json, REF_SECRET));
    cJSON_Delete (root);
    free (json);
    turn_destroy (&turn);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *s = suite_create ("turn");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_credential_reference);
    tcase_add_test (tc, test_credential_small_buffers);
    tcase_add_test (tc, test_urls_check);
    tcase_add_test (tc, test_ice_servers_none);
    tcase_add_test (tc, test_ice_servers_urls_without_secret);
    tcase_add_test (tc, test_ice_servers_turn);
    suite_add_tcase (s, tc);
    return s;
}

MEGLE_CHECK_MAIN (s_suite)
