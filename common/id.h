//  id - unguessable identifiers and salted hashes.
//
//  Session and match ids are 128 bits from the kernel CSPRNG (getrandom),
//  written as 32 lower-case hex digits. Nothing a client sends can name a
//  session it was not told about, and ids cannot be guessed.

#ifndef MEGLE_ID_H
#define MEGLE_ID_H

#include <stddef.h>
#include <stdint.h>

#define ID_BYTES       16
#define ID_STRLEN      (ID_BYTES * 2) //  hex digits, without the NUL
#define ID_GATEWAY_MAX 64             //  longest gateway id, without the NUL

//  Write a new random id (ID_STRLEN hex digits + NUL) into out, which must
//  hold ID_STRLEN + 1 bytes. Returns 0, or -1 if the CSPRNG failed.
int id_new (char *out);

//  True if s (of length len) is a well-formed id: exactly ID_STRLEN
//  lower-case hex digits.
int id_valid (const char *s, size_t len);

//  True if s (of length len) is a well-formed gateway id: 1..ID_GATEWAY_MAX
//  characters of [A-Za-z0-9._-] (so never "*", the broadcast topic).
int id_gateway_valid (const char *s, size_t len);

//  Fill buf with len random bytes from the CSPRNG. Returns 0 or -1.
int id_random (void *buf, size_t len);

//  HMAC-SHA256(salt, text), first 16 bytes as 32 hex digits + NUL into
//  out (ID_STRLEN + 1 bytes). Used to keep IP addresses only as salted
//  hashes. Returns 0 or -1.
int id_salted_hash (const char *salt, const char *text, char *out);

#endif
