//  reply - reading hiredis replies of the matcher's scripts.

#ifndef MEGLE_REPLY_H
#define MEGLE_REPLY_H

#include <stddef.h>

#include <hiredis/hiredis.h>

//  Element index of an array reply as a string: "" if the reply is not an
//  array, has no such element, or the element is not a string or status.
//  The string belongs to the reply.
static inline const char *
reply_str (const redisReply *reply, size_t index)
{
    if (!reply || reply->type != REDIS_REPLY_ARRAY || index >= reply->elements)
        return "";
    const redisReply *element = reply->element[index];
    if (element->type != REDIS_REPLY_STRING
        && element->type != REDIS_REPLY_STATUS)
        return "";
    return element->str;
}

#endif
