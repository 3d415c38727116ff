// See double_include_a.cpp.
#include <mongoelector.hpp>
#include <mongoelector.hpp>

#include <string>

std::string double_include_b() {
    mongoelector::detail::Json v = mongoelector::detail::parse_json("{\"b\":\"from b\"}");
    return mongoelector::version() + "|" + v.find("b")->string;
}
