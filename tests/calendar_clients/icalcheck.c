/* Reads an iCalendar file the way libical (Evolution, KOrganizer's KCalendarCore's sibling,
 * many servers) does and prints, one line per finding:
 *   ERROR <text>            a parse error or a violation of RFC 5546's restrictions (iTIP),
 *                           as icalrestriction_check() reports them
 *   EVENT <uid> <start> <end> <summary>   start and end in UTC (seconds since the epoch),
 *                           converted by libical through the file's own VTIMEZONE
 * Exit status 0 when the file parsed, 2 when it did not. */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>

static char *slurp(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *data = malloc(size + 1);
    if (fread(data, 1, size, file) != (size_t)size) size = 0;
    data[size] = 0;
    fclose(file);
    return data;
}

static void errors(icalcomponent *comp) {
    for (icalproperty *p = icalcomponent_get_first_property(comp, ICAL_XLICERROR_PROPERTY); p;
         p = icalcomponent_get_next_property(comp, ICAL_XLICERROR_PROPERTY))
        printf("ERROR %s: %s\n", icalcomponent_kind_to_string(icalcomponent_isa(comp)),
               icalproperty_get_xlicerror(p));
    for (icalcomponent *c = icalcomponent_get_first_component(comp, ICAL_ANY_COMPONENT); c;
         c = icalcomponent_get_next_component(comp, ICAL_ANY_COMPONENT))
        errors(c);
}

static long utc(struct icaltimetype t) {
    return (long)icaltime_as_timet_with_zone(t, t.zone ? t.zone : icaltimezone_get_utc_timezone());
}

int main(int argc, char **argv) {
    if (argc != 2) return 64;
    char *data = slurp(argv[1]);
    icalcomponent *calendar = data ? icalparser_parse_string(data) : NULL;
    if (!calendar || icalcomponent_isa(calendar) != ICAL_VCALENDAR_COMPONENT) {
        printf("ERROR not an iCalendar file\n");
        return 2;
    }
    icalrestriction_check(calendar);
    errors(calendar);
    for (icalcomponent *e = icalcomponent_get_first_component(calendar, ICAL_VEVENT_COMPONENT); e;
         e = icalcomponent_get_next_component(calendar, ICAL_VEVENT_COMPONENT)) {
        const char *summary = icalcomponent_get_summary(e);
        printf("EVENT %s %ld %ld %s\n", icalcomponent_get_uid(e), utc(icalcomponent_get_dtstart(e)),
               utc(icalcomponent_get_dtend(e)), summary ? summary : "");
    }
    icalcomponent_free(calendar);
    free(data);
    return 0;
}
