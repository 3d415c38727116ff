// Two translation units include the header (twice each): the link fails if it
// defines anything non-inline, and the guard must make the second include a no-op.
#include <mongoelector.hpp>
#include <mongoelector.hpp>

#include <string>

std::string double_include_a() {
    mongoelector::detail::Json v = mongoelector::detail::parse_json("{\"a\":\"from a\"}");
    return mongoelector::version() + "|" + v.find("a")->string;
}
