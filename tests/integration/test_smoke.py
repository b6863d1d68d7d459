def test_home_page_introduces_the_office_in_german(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Kreis Heinsberg" in response.text
    assert '<html lang="de"' in response.text
