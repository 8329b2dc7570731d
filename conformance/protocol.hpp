// A provider's wire protocol as the kit's upstream speaks it, read from a
// protocols/*.yaml file: where calls go, how a reply is written (streamed
// and whole), and which category each error answer must become.
#pragma once

#include <omnichat/omnichat_plugin.h>

#include <map>
#include <string>
#include <vector>

namespace omnichat::conformance {

struct Protocol {
    std::string name;
    std::map<std::string, std::string> options;  // {upstream} not yet replaced
    std::string path;
    std::string authHeader, authValue;  // empty: not checked
    std::string streamType, start, delta, end;
    std::string plainType, plainBody;
    struct Error {
        int status;
        std::string body;
        omnichat_status_t category;
    };
    std::vector<Error> errors;
    struct StreamError {
        std::string event;
        omnichat_status_t category;
    };
    std::vector<StreamError> streamErrors;

    // Fills a template: {model} and {text} as JSON strings, the counts as
    // numbers.
    static std::string fill(std::string text, const std::string& model, const std::string& reply, int64_t prompt,
                            int64_t completion);
};

// Reads `file`; throws std::runtime_error naming what is wrong.
Protocol loadProtocol(const std::string& file);

// "bad_request" -> OMNICHAT_ERR_BAD_REQUEST, and back.
omnichat_status_t categoryNamed(const std::string& name);
std::string categoryName(omnichat_status_t status);

}  // namespace omnichat::conformance
