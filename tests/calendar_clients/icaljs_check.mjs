// Reads iCalendar files the way Thunderbird does (ical.js is its parser) and prints, as JSON, per
// file: the METHOD and per VEVENT its UID, SUMMARY, STATUS, SEQUENCE, and start and end in UTC
// (seconds since the epoch) as ical.js computes them from the file's own VTIMEZONE.
// Usage: node icaljs_check.mjs FILE...
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const results = process.argv.slice(2).map((path) => {
  const calendar = new ICAL.Component(ICAL.parse(readFileSync(path, "utf8")));
  return {
    method: calendar.getFirstPropertyValue("method"),
    timezones: calendar.getAllSubcomponents("vtimezone").map((zone) => zone.getFirstPropertyValue("tzid")),
    events: calendar.getAllSubcomponents("vevent").map((component) => {
      const event = new ICAL.Event(component);
      return {
        uid: event.uid,
        summary: event.summary,
        status: component.getFirstPropertyValue("status"),
        sequence: event.sequence,
        tzid: component.getFirstProperty("dtstart").getParameter("tzid") ?? null,
        start: event.startDate.toUnixTime(),
        end: event.endDate.toUnixTime(),
        attendees: event.attendees.length,
      };
    }),
  };
});
process.stdout.write(JSON.stringify(results));
